"""Forms of the versioned definition pages (load a file, make effective, retire)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired, FileSize
from wtforms import DateField, TextAreaField
from wtforms.validators import DataRequired, Length

from app.common.forms import date_in_range
from app.common.timeutil import site_today, site_zone

MAX_DEFINITION_BYTES = 1024 * 1024


class LoadForm(FlaskForm):
    definition_file = FileField("Definition file (YAML)", validators=[
        FileRequired(message="Choose a .yaml file."),
        FileAllowed(["yaml", "yml"], message="Only .yaml files are definitions."),
        FileSize(MAX_DEFINITION_BYTES, message="The file is larger than 1 MB."),
    ])  # fmt: skip


class EffectiveForm(FlaskForm):
    effective_on = DateField("Effective from (site date; today means now)",
                             validators=[DataRequired(), date_in_range])  # fmt: skip
    effective_reason = TextAreaField("Reason (e.g. change control reference)",
                                     validators=[DataRequired(), Length(max=1000)])  # fmt: skip

    def moment(self) -> datetime | None:
        """None for today (effective now), else the start of that day in the site's zone."""
        return start_of_site_day(self.effective_on.data)


class RetireForm(FlaskForm):
    retire_reason = TextAreaField("Reason for retiring", validators=[DataRequired(), Length(max=1000)])


def start_of_site_day(day: date) -> datetime | None:
    """The UTC moment a site date begins; None when it is today (so: now, not this midnight)."""
    if day == site_today():
        return None
    # A past date gives a past moment, which the service refuses with its own message.
    return datetime.combine(day, time(0), site_zone()).astimezone(UTC)
