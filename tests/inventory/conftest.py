"""Fixtures for the inventory tests: people by role and material lots in each state."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from app.common.timeutil import site_today
from app.inventory import services
from app.inventory.models import Equipment, MaterialLot


@pytest.fixture
def qa(make_user):  # type: ignore[no-untyped-def]
    return make_user("qa")


@pytest.fixture
def supervisor(make_user):  # type: ignore[no-untyped-def]
    return make_user("supervisor")


@pytest.fixture
def operator(make_user):  # type: ignore[no-untyped-def]
    return make_user("operator")


def receive(db, user, lot_code: str = "ML-0001", item_code: str = "SB431542", *, commit: bool = True,
            expiry_date: date | None = None, quantity: Decimal | None = Decimal("100"), unit: str = "µL",
            **fields: Any) -> MaterialLot:  # fmt: skip
    """Receive a lot as `user` (quarantine), defaults for every field not under test."""
    lot = services.receive_material_lot(
        db, user, lot_code=lot_code, item_code=item_code, name=fields.get("name", "SB431542, 10 mM in DMSO"),
        supplier=fields.get("supplier", "Tocris Bioscience"), supplier_lot=fields.get("supplier_lot", "T-1"),
        expiry_date=expiry_date or site_today() + timedelta(days=200), unit=unit, quantity=quantity,
    )  # fmt: skip
    if commit:
        db.commit()
    return lot


def released(db, qa_user, lot_code: str = "ML-0001", item_code: str = "SB431542", **kw: Any) -> MaterialLot:
    lot = receive(db, qa_user, lot_code, item_code, commit=False, **kw)
    services.release_material_lot(db, qa_user, lot, "CoA reviewed, identity confirmed")
    db.commit()
    return lot


def register(db, user, code: str = "BSC-01", type_code: str = "BSC", due: date | None = None) -> Equipment:
    item = services.register_equipment(db, user, code=code, type_code=type_code, name="Biosafety cabinet",
                                       location="Suite 2", calibration_due=due)  # fmt: skip
    db.commit()
    return item
