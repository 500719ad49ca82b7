"""The development demo stock: every BOM item and equipment type of the templates, idempotent."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.audit.capture import Actor
from app.audit.models import AuditEvent
from app.common.timeutil import site_today
from app.inventory import services
from app.inventory.models import Equipment, MaterialLot, MaterialStatus
from app.inventory.seed import demo_templates, seed_demo_inventory
from tests.mbr.helpers import SHORT, effective, load_file

pytestmark = pytest.mark.req("URS-MAT-007")

SEEDER = Actor.system("flask seed-demo")


def _count(db, model) -> int:  # type: ignore[no-untyped-def]
    return db.scalar(select(func.count()).select_from(model))


def test_every_bom_item_gets_released_stock_and_every_type_equipment(db):
    seed_demo_inventory(db, SEEDER)
    items, types = services.catalogue(demo_templates(db))
    today = site_today()
    for item in items:
        assert services.usable_material_lot(db, f"{item.code}-L01", item.code, today).unit == item.unit
    for kind in types:
        assert services.usable_equipment(db, f"{kind.code}-01", kind.code, today)
    assert {"SB431542", "LDN193189", "CHIR99021", "SHH-C24II", "FGF8B"} <= {item.code for item in items}


def test_the_demo_has_one_quarantined_one_expired_lot_and_one_overdue_item(db):
    seed_demo_inventory(db, SEEDER)
    lots = services.search_material_lots(db)
    assert [lot.lot_code for lot in lots if lot.status == MaterialStatus.QUARANTINE] == ["LDN193189-L02"]
    assert [lot.lot_code for lot in lots if lot.expired_on(site_today())] == ["CHIR99021-L03"]
    overdue = [e.code for e in services.search_equipment(db) if e.calibration_overdue_on(site_today())]
    assert overdue == ["PIPETTE-02"]
    assert all(lot.quantity_on_hand > 0 for lot in lots)


def test_seeding_twice_changes_nothing(db):
    seed_demo_inventory(db, SEEDER)
    before = (_count(db, MaterialLot), _count(db, Equipment), _count(db, AuditEvent))
    seed_demo_inventory(db, SEEDER)
    assert (_count(db, MaterialLot), _count(db, Equipment), _count(db, AuditEvent)) == before


def test_effective_templates_in_the_database_count_too(db, make_user, tmp_path: Path):
    qa = make_user("qa")
    row, _ = load_file(db, SHORT)
    effective(db, qa, row)
    seed_demo_inventory(db, qa, directory=tmp_path)  # no shipped files: only the database
    assert {lot.item_code for lot in services.search_material_lots(db)} == {"MEDIUM-A", "CRYO-VIAL"}
    received = db.scalars(select(AuditEvent.actor_id).where(AuditEvent.action == "material_lot.received"))
    assert set(received) == {qa.id}  # a user passed as the actor is named in the trail
