"""Form pieces shared by every module: GET filters and select choices."""

from __future__ import annotations

import enum
from collections.abc import Iterable

from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length


class FilterForm(FlaskForm):
    """A list filter sent by GET: it changes nothing, so it carries no CSRF token."""

    class Meta:
        csrf = False


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
