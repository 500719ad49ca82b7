"""Forms of the auditor portal and the public verification page."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DateField, HiddenField, SelectField, StringField
from wtforms.validators import Length, Optional, ValidationError

from app.batches.models import LotStatus
from app.common.forms import FilterForm, choices, date_in_range, enum_choices, reason_field


class LotSearchForm(FilterForm):
    number = StringField("Lot number contains", validators=[Optional(), Length(max=40)])
    product = SelectField("Product", validators=[Optional()], validate_choice=True)
    status = SelectField("Status", validators=[Optional()], choices=enum_choices(LotStatus, blank="Any status"))
    started_from = DateField("Started from (site date)", validators=[Optional(), date_in_range])
    started_to = DateField("Started to (site date)", validators=[Optional(), date_in_range])

    def set_products(self, products: list[str]) -> None:
        self.product.choices = choices(((p, p) for p in products), blank="Any product")


class VerifyForm(FlaskForm):
    """Upload a file or paste its SHA-256; `expected` is the document a QR code named."""

    file = FileField("The document (PDF or CSV)")
    sha256 = StringField("…or its SHA-256", validators=[Optional(), Length(max=80)])
    expected = HiddenField(validators=[Optional(), Length(max=36)])

    def validate_sha256(self, field: StringField) -> None:
        if not field.data and not self.file.data:
            raise ValidationError("Choose a file or paste a SHA-256.")


class RegenerateForm(FlaskForm):
    reason = reason_field("Why a new rendering is needed")


class ExportForm(FlaskForm):
    """An on-demand export (a POST: it records a new document and an audit event)."""
