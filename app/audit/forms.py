"""The audit trail viewer's filter form (GET; it changes nothing, so no CSRF token)."""

from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, StringField
from wtforms.validators import Length, NumberRange, Optional

from app.common.forms import date_in_range
from app.common.web import MAX_ID


class EventFilterForm(FlaskForm):
    class Meta:
        csrf = False

    lot_id = IntegerField("Lot (id)", validators=[Optional(), NumberRange(min=1, max=MAX_ID)])
    actor_id = IntegerField("User (id)", validators=[Optional(), NumberRange(min=1, max=MAX_ID)])
    entity_type = StringField("Entity type", validators=[Optional(), Length(max=80)])
    entity_id = StringField("Entity id", validators=[Optional(), Length(max=80)])
    action = StringField("Action starts with", validators=[Optional(), Length(max=80)])
    date_from = DateField("From (site date)", validators=[Optional(), date_in_range])
    date_to = DateField("To (site date)", validators=[Optional(), date_in_range])
