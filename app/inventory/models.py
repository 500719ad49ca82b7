"""Material lots (with status and expiry) and equipment items (with calibration due dates)."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.audit.capture import Auditable
from app.common.models import str_enum
from app.common.timeutil import utcnow
from app.extensions import db


class MaterialStatus(enum.StrEnum):
    QUARANTINE = "quarantine"
    RELEASED = "released"
    REJECTED = "rejected"


class MaterialLot(Auditable, db.Model):
    """A received lot of a BOM item; only released, unexpired lots may be used."""

    __tablename__ = "material_lots"
    __audit_workflow_fields__ = frozenset({"quantity_on_hand", "status", "version_id"})

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The internal lot ID printed on the label and scanned at the step.
    lot_code: Mapped[str] = mapped_column(String(60), unique=True)
    #: The BOM item code of the master batch record (e.g. SB431542).
    item_code: Mapped[str] = mapped_column(String(40), index=True)
    name: Mapped[str] = mapped_column(String(200))
    supplier: Mapped[str] = mapped_column(String(200))
    supplier_lot: Mapped[str] = mapped_column(String(80))
    status: Mapped[MaterialStatus] = mapped_column(str_enum(MaterialStatus), default=MaterialStatus.QUARANTINE)
    expiry_date: Mapped[date]
    unit: Mapped[str] = mapped_column(String(20))
    quantity_on_hand: Mapped[Decimal | None]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Optimistic version: two steps consuming the same lot at once never lose an update.
    version_id: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version_id}

    def expired_on(self, today: date) -> bool:
        """The expiry date is the last day of use; from the next site day the lot is expired."""
        return today > self.expiry_date


class EquipmentStatus(enum.StrEnum):
    ACTIVE = "active"
    OUT_OF_SERVICE = "out_of_service"
    RETIRED = "retired"


class Equipment(Auditable, db.Model):
    """An equipment item; usable only when active and its calibration is not overdue."""

    __tablename__ = "equipment"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The equipment ID on its label, scanned at the step (e.g. BSC-02).
    code: Mapped[str] = mapped_column(String(60), unique=True)
    #: The equipment type code of the master batch record (e.g. BSC).
    type_code: Mapped[str] = mapped_column(String(40), index=True)
    name: Mapped[str] = mapped_column(String(200))
    location: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[EquipmentStatus] = mapped_column(str_enum(EquipmentStatus), default=EquipmentStatus.ACTIVE)
    #: Last day on which the item may be used (calibration due on this date).
    calibration_due: Mapped[date | None]

    def calibration_overdue_on(self, today: date) -> bool:
        """Calibration is due on `calibration_due` (last usable day); None: no calibration needed."""
        return self.calibration_due is not None and today > self.calibration_due
