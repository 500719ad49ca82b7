"""Step entry forms, built from the step definition (one field per input, scanner friendly)."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from app.batches.services import StepInput
from app.common.forms import choices
from app.mbr.schema import (
    ChoiceInput,
    DateTimeInput,
    DecimalInput,
    EquipmentInput,
    InputDef,
    IntegerInput,
    MaterialInput,
    StepDef,
    TextInput,
    TimerInput,
    YesNoInput,
)
from app.signatures.forms import SignatureForm

PREFIX = "in_"
_WHEN = {"type": "datetime-local", "step": "1"}
_SCAN = {"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false", "data-scan": "1"}


def _value_field(input_def: InputDef) -> Any:
    label = input_def.label + (f" ({input_def.unit})" if getattr(input_def, "unit", None) else "")
    kw: dict[str, Any] = {"label": label, "validators": [Optional(), Length(max=2000)],
                          "description": input_def.help or ""}  # fmt: skip
    if isinstance(input_def, ChoiceInput):
        return SelectField(choices=choices(((o, o) for o in input_def.options), blank="— choose —"), **kw)
    if isinstance(input_def, YesNoInput):
        return RadioField(choices=choices([("yes", "Yes"), ("no", "No")]), **kw)
    if isinstance(input_def, (DecimalInput, IntegerInput)):
        mode = "decimal" if isinstance(input_def, DecimalInput) else "numeric"
        return StringField(render_kw={"inputmode": mode, "autocomplete": "off"}, **kw)
    if isinstance(input_def, (MaterialInput, EquipmentInput)):
        return StringField(render_kw=_SCAN, **kw)
    if isinstance(input_def, DateTimeInput):
        return StringField(render_kw=_WHEN, **kw)
    if isinstance(input_def, TextInput) and (input_def.max_length or 0) > 120:
        return TextAreaField(render_kw={"rows": 3}, **kw)
    return StringField(**kw)


def has_limits(input_def: InputDef) -> bool:
    """Inputs that can be outside action limits get a comment field (required then)."""
    return isinstance(input_def, (DecimalInput, ChoiceInput, YesNoInput, TimerInput))


def step_form(step_def: StepDef, recorded: set[str], formdata: Any = None) -> FlaskForm:
    """A form with fields for the inputs not yet recorded, plus the signing dialog."""

    class StepForm(SignatureForm):
        # The step's version when the page was read (a number; anything else is a forged form).
        expected_version = HiddenField(validators=[DataRequired(), Regexp(r"^\d{1,9}$")])

    for input_def in step_def.inputs:
        if input_def.name in recorded:
            continue
        name = PREFIX + input_def.name
        if isinstance(input_def, TimerInput):
            for end in ("start", "stop"):
                setattr(StepForm, f"{name}__{end}", StringField(f"{input_def.label}: {end}", render_kw=_WHEN))
        else:
            setattr(StepForm, name, _value_field(input_def))
        if isinstance(input_def, MaterialInput) and input_def.quantity is not None:
            setattr(StepForm, name + "__qty", StringField(f"Quantity used ({input_def.quantity.unit})",
                                                          render_kw={"inputmode": "decimal"}))  # fmt: skip
        if has_limits(input_def):
            setattr(StepForm, name + "__comment", StringField(f"{input_def.label}: comment (if outside limits)",
                                                              validators=[Optional(), Length(max=2000)]))  # fmt: skip
    return StepForm(formdata=formdata)


def _data(form: FlaskForm, name: str) -> str | None:
    field = form._fields.get(name)
    return field.data if field is not None else None


def step_inputs(form: FlaskForm, step_def: StepDef) -> dict[str, StepInput]:
    """The raw text of each input in the form, as the service expects it."""
    inputs = {}
    for input_def in step_def.inputs:
        name = PREFIX + input_def.name
        if isinstance(input_def, TimerInput):
            start, stop = _data(form, name + "__start"), _data(form, name + "__stop")
            value = f"{start}/{stop}" if start or stop else None
        else:
            value = _data(form, name)
        inputs[input_def.name] = StepInput(value, _data(form, name + "__qty"), _data(form, name + "__comment"))
    return inputs


def attach_errors(form: FlaskForm, field_errors: dict[str, str]) -> None:
    """Show each refused value's message next to its own field."""
    for input_name, message in field_errors.items():
        for suffix in ("", "__start", "__stop"):
            field = form._fields.get(PREFIX + input_name + suffix)
            if field is not None:
                field.errors = [*field.errors, message] if isinstance(field.errors, list) else [message]
                break


class StartLotForm(FlaskForm):
    template_version_id = SelectField("Master batch record (Effective version)", coerce=int,
                                      validators=[DataRequired()])  # fmt: skip
    starting_material = StringField("Starting material: working cell bank vial lot",
                                    validators=[DataRequired(), Length(max=120)], render_kw=_SCAN)  # fmt: skip


class CorrectionForm(FlaskForm):
    value = StringField("Corrected value", validators=[DataRequired(), Length(max=2000)])
    quantity = StringField("Corrected quantity", validators=[Optional(), Length(max=40)])
    comment = StringField("Comment (required outside action limits)", validators=[Optional(), Length(max=2000)])
    reason = TextAreaField("Reason for the correction", validators=[DataRequired(), Length(max=2000)])
