"""Step input types: a registry of classes that read their definition, validate and evaluate.

Each type validates an operator's raw text into a normalized value (or raises InputError)
and evaluates a validated value against its limits (within, alert or action excursion).

- base.py: `InputDef`, what every type shares;
- measured.py: decimal and integer values with their limits;
- answers.py: text, choice and yes/no answers;
- traceability.py: material lots, equipment IDs, date-times and timers.
"""

from .answers import ChoiceInput, TextInput, YesNoInput
from .base import InputDef
from .measured import DecimalInput, IntegerInput
from .traceability import DateTimeInput, EquipmentInput, MaterialInput, QuantitySpec, TimerInput

#: The registry: YAML `type` name -> input class (CTFd-style).
INPUT_TYPES: dict[str, type[InputDef]] = {
    cls.type: cls
    for cls in (
        DecimalInput,
        IntegerInput,
        TextInput,
        ChoiceInput,
        YesNoInput,
        MaterialInput,
        EquipmentInput,
        TimerInput,
        DateTimeInput,
    )
}

__all__ = [
    "INPUT_TYPES",
    "ChoiceInput",
    "DateTimeInput",
    "DecimalInput",
    "EquipmentInput",
    "InputDef",
    "IntegerInput",
    "MaterialInput",
    "QuantitySpec",
    "TextInput",
    "TimerInput",
    "YesNoInput",
]
