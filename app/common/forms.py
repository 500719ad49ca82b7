"""Form pieces shared by every module: GET filters and select choices."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import date
from typing import Any

from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, StopValidation, ValidationError

#: The dates a form accepts where a date becomes a moment (the start of a site day, in UTC): far
#: from the calendar's ends, so converting to UTC or adding a day never overflows (a 500).
FIRST_DATE, LAST_DATE = date(1900, 1, 1), date(9998, 12, 31)


class FilterForm(FlaskForm):
    """A list filter sent by GET: it changes nothing, so it carries no CSRF token."""

    class Meta:
        csrf = False

    def validate(self, extra_validators: Any = None) -> bool:
        """Validate, then make a blank filter (spaces only) empty: `Optional()` lets " " through
        a select's choice check, and the searches would take it for a value (an enum of " ")."""
        valid = super().validate(extra_validators)
        for field in self:
            if isinstance(field.data, str) and not field.data.strip():
                field.data = ""
        return valid


def date_in_range(_form: Any, field: Any) -> None:
    """Validator of such date fields (empty passes: Optional/DataRequired decide about that)."""
    if field.data is not None and not FIRST_DATE <= field.data <= LAST_DATE:
        raise ValidationError(f"Enter a date from {FIRST_DATE:%Y-%m-%d} to {LAST_DATE:%Y-%m-%d}.")


def finite_decimal(_form: Any, field: Any) -> None:
    """Validator of a DecimalField, before any range check: NaN, sNaN and Infinity are no quantity
    (NumberRange itself raises on a signalling NaN: a 500)."""
    if field.data is not None and not field.data.is_finite():
        raise StopValidation("Enter a number (not NaN or Infinity).")


def label_of(value: str) -> str:
    """'out_of_service' -> 'Out of service': stored values shown as words."""
    return value.replace("_", " ").capitalize()


def choices(pairs: Iterable[tuple[str, str]], blank: str | None = None) -> list[SelectChoice]:
    """Select choices (SelectChoice: WTForms 3.3 deprecates bare tuples), optionally led by a blank."""
    lead = [SelectChoice("", blank)] if blank is not None else []
    return lead + [SelectChoice(str(value), label) for value, label in pairs]


def enum_choices(
    values: type[enum.Enum] | Iterable[enum.Enum], blank: str | None = None, labels: dict[str, str] | None = None
) -> list[SelectChoice]:
    """Choices of an enum's values, worded by `label_of` unless `labels` says otherwise."""
    labels = labels or {}
    return choices(((m.value, labels.get(m.value) or label_of(m.value)) for m in values), blank)


def reason_field(label: str = "Reason") -> TextAreaField:
    """The reason of a change (Annex 11 §9), declared after the fields it explains so it renders last."""
    return TextAreaField(label, validators=[DataRequired(), Length(max=1000)])
