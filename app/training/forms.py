"""Training record forms; the trainee and procedure lists are filled by the view."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, SelectField
from wtforms.validators import DataRequired, Optional

from app.common.forms import FilterForm


class TrainingFilterForm(FilterForm):
    user_id = SelectField("Trainee", validators=[Optional()])
    template_code = SelectField("Master batch record", validators=[Optional()])


class TrainingForm(FlaskForm):
    user_id = SelectField("Trainee", validators=[DataRequired(message="Choose the trainee.")])
    template_code = SelectField("Master batch record", validators=[DataRequired(message="Choose the procedure.")])
    trained_on = DateField("Trained on", validators=[DataRequired()])
    expires_on = DateField("Expires on (last day the training counts)", validators=[DataRequired()])
