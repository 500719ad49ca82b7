"""Deviation forms: the list filter, raising one by hand, the investigation."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from app.common.forms import FilterForm, enum_choices
from app.deviations.models import Category, DeviationStatus, Severity


class DeviationFilterForm(FilterForm):
    status = SelectField("Status", choices=enum_choices(DeviationStatus, blank="Any status"),
                         validators=[Optional()])  # fmt: skip
    lot = StringField("Lot number contains", validators=[Optional(), Length(max=40)])


CATEGORY_LABELS = {"oos": "OOS (out of specification)"}


class RaiseDeviationForm(FlaskForm):
    lot_id = SelectField("Lot", validators=[DataRequired(message="Choose the lot.")])
    category = SelectField("Category", choices=enum_choices(Category, "— choose —", CATEGORY_LABELS),
                           validators=[DataRequired(message="Choose a category.")])  # fmt: skip
    severity = SelectField("Severity", choices=enum_choices(Severity, blank="— choose —"),
                           validators=[DataRequired(message="Choose a severity.")],
                           description="Critical: may affect patient safety or product quality; "
                                       "major: a significant departure; minor: no expected impact.")  # fmt: skip
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    description = TextAreaField("What happened, when, where and what was done at once",
                                validators=[DataRequired(), Length(max=10000)])  # fmt: skip


class InvestigationForm(FlaskForm):
    root_cause = TextAreaField("Root cause", validators=[DataRequired(), Length(max=10000)])
    impact = TextAreaField("Impact on the product and other lots", validators=[DataRequired(), Length(max=10000)])
    capa_ref = StringField("CAPA reference", validators=[Optional(), Length(max=60)])
    reason = TextAreaField("Reason for the change", validators=[Optional(), Length(max=1000)],
                           description="Required when you change an investigation already recorded.")  # fmt: skip
