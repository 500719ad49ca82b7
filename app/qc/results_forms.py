"""The QC result entry form (the rules are checked by app.qc.services, not here)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, StringField
from wtforms.validators import DataRequired, Length, Optional

from app.qc.services import ResultInput


class ResultForm(FlaskForm):
    sample_id = StringField("Sample ID", validators=[DataRequired(message="Enter the sample ID."), Length(max=60)])
    method = StringField("Method", validators=[Optional(), Length(max=300)],
                         description="Prefilled from the specification; add the SOP version if needed.")  # fmt: skip
    instrument = StringField("Instrument ID", validators=[DataRequired(message="Enter the instrument ID."),
                                                          Length(max=120)])  # fmt: skip
    tested_on = DateField("Test date (site date)", validators=[DataRequired(message="Enter the test date.")])
    reported_text = StringField("Result, exactly as reported", validators=[
        DataRequired(message="Enter the result."), Length(max=200)],
        description="A number (e.g. 91.35), '< value', '<LOQ', or the text result (e.g. No growth).")  # fmt: skip

    def result_input(self, test_code: str) -> ResultInput:
        return ResultInput(test_code, self.sample_id.data or "", self.method.data or "",
                           self.instrument.data or "", self.tested_on.data, self.reported_text.data or "")  # fmt: skip
