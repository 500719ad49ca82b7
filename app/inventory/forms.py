"""Material lot and equipment forms; codes are typed or scanned (no autocorrect, capitals)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, DecimalField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from app.common.forms import FilterForm, enum_choices, finite_decimal, reason_field
from app.inventory.models import EquipmentStatus, MaterialStatus

#: Attributes for fields filled by a barcode scanner or typed from a label.
SCAN = {"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}


def _text(label: str, max_length: int, **kw) -> StringField:  # type: ignore[no-untyped-def]
    return StringField(label, validators=[DataRequired(), Length(max=max_length)], **kw)


class MaterialLotFilterForm(FilterForm):
    q = StringField("Lot ID, item code, name or supplier lot", validators=[Optional(), Length(max=100)])
    status = SelectField("Status", choices=enum_choices(MaterialStatus, blank="Any status"),
                         validators=[Optional()])  # fmt: skip


class ReceiveMaterialLotForm(FlaskForm):
    lot_code = _text("Lot ID (on our label)", 60, render_kw=SCAN)
    item_code = _text("Item code (bill of materials)", 40, render_kw={**SCAN, "list": "bom-codes"})
    name = _text("Material name", 200)
    supplier = _text("Supplier", 200)
    supplier_lot = _text("Supplier lot number", 80)
    expiry_date = DateField("Expiry date (last day of use)", validators=[DataRequired()])
    unit = _text("Unit", 20, description="The unit the stock is counted in, e.g. mL, µL, vial.")
    quantity = DecimalField("Quantity received", places=None,
                            validators=[Optional(), finite_decimal, NumberRange(min=0)],
                            description="Leave empty when the stock of this material is not tracked.")  # fmt: skip


class ExpiryForm(FlaskForm):
    expiry_date = DateField("New expiry date", validators=[DataRequired()])
    reason = reason_field()


class EquipmentFilterForm(FilterForm):
    q = StringField("Equipment ID, type, name or location", validators=[Optional(), Length(max=100)])
    status = SelectField("Status", choices=enum_choices(EquipmentStatus, blank="Any status"),
                         validators=[Optional()])  # fmt: skip


class EquipmentForm(FlaskForm):
    code = _text("Equipment ID (on its label)", 60, render_kw=SCAN)
    type_code = _text("Equipment type (as in the batch records)", 40, render_kw={**SCAN, "list": "equipment-types"})
    name = _text("Name", 200)
    location = StringField("Location", validators=[Optional(), Length(max=100)])
    calibration_due = DateField("Calibration due (last day of use)", validators=[Optional()],
                                description="Leave empty for equipment that needs no calibration.")  # fmt: skip


class EquipmentStatusForm(FlaskForm):
    status = SelectField("New status", choices=enum_choices(EquipmentStatus), validators=[DataRequired()])
    reason = reason_field()


class CalibrationForm(FlaskForm):
    calibration_due = DateField("Next calibration due", validators=[DataRequired()])
    reason = reason_field("Reason (calibration certificate reference)")
