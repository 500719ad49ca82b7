"""Master batch record schema: parse and validate one template file (pure: no DB, no Flask).

`parse_template(text, filename)` returns a frozen `TemplateDef` or raises `DefinitionError`
listing every problem as 'file:line: message'. The format is described in docs/mbr-format.md.
"""

from app.common.yamlfile import DefinitionError

from .inputs import (
    INPUT_TYPES,
    ChoiceInput,
    DateTimeInput,
    DecimalInput,
    EquipmentInput,
    InputDef,
    IntegerInput,
    MaterialInput,
    QuantitySpec,
    TextInput,
    TimerInput,
    YesNoInput,
)
from .model import (
    FORMAT_VERSION,
    PERFORMED,
    VERIFIED,
    BomItem,
    EquipmentType,
    HoldWindow,
    OperationDef,
    SamplingDef,
    StepDef,
    TemplateDef,
    UnitProcedureDef,
    YieldStage,
)
from .parse import parse_template
from .values import ACTION, ALERT, WITHIN, InputError, LimitResult, Limits

__all__ = [
    "ACTION",
    "ALERT",
    "FORMAT_VERSION",
    "INPUT_TYPES",
    "PERFORMED",
    "VERIFIED",
    "WITHIN",
    "BomItem",
    "ChoiceInput",
    "DateTimeInput",
    "DecimalInput",
    "DefinitionError",
    "EquipmentInput",
    "EquipmentType",
    "HoldWindow",
    "InputDef",
    "InputError",
    "IntegerInput",
    "LimitResult",
    "Limits",
    "MaterialInput",
    "OperationDef",
    "QuantitySpec",
    "SamplingDef",
    "StepDef",
    "TemplateDef",
    "TextInput",
    "TimerInput",
    "UnitProcedureDef",
    "YesNoInput",
    "YieldStage",
    "parse_template",
]
