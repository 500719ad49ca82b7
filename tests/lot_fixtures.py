"""Shared lot fixtures (loaded by tests/conftest.py): an Effective template, inventory, people, a lot."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from app.audit import capture as audit
from app.audit.capture import Actor
from app.batches import services
from app.batches.simulate import Autopilot
from app.common.timeutil import site_today, utcnow
from app.common.yamlfile import sha256_text
from app.inventory.models import Equipment, MaterialLot, MaterialStatus
from app.mbr.models import TemplateStatus, TemplateVersion
from app.mbr.schema import parse_template
from app.signatures.services import Credentials
from app.training.models import TrainingRecord
from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[1]
SHORT = ROOT / "tests/data/templates/SHORT-TEST.v1.yaml"
SYSTEM = Actor.system("tests")


def make_effective(db, path: Path) -> TemplateVersion:
    """Store a template file as an Effective version (the MBR lifecycle is tested elsewhere)."""
    text = path.read_text()
    definition = parse_template(text, path.name)
    version = TemplateVersion(
        code=definition.code, version=definition.version, revision=1, title=definition.title,
        product=definition.product, status=TemplateStatus.EFFECTIVE, source_file=path.name,
        source_text=text, source_sha256=sha256_text(text), loaded_by_name="tests",
        effective_from=utcnow(),
    )  # fmt: skip
    with audit.action(db, "test.template_effective", SYSTEM):
        db.add(version)
    return version


def train(db, user, code: str, days: int = 365) -> TrainingRecord:
    record = TrainingRecord(user_id=user.id, template_code=code, trained_on=site_today() - timedelta(days=1),
                            expires_on=site_today() + timedelta(days=days), recorded_by_id=user.id)  # fmt: skip
    with audit.action(db, "test.trained", SYSTEM):
        db.add(record)
    return record


def creds(user, password: str = PASSWORD) -> Credentials:
    return Credentials(password, user.username, True, True, "127.0.0.1")


@pytest.fixture
def short_template(db):
    return make_effective(db, SHORT)


def add_stock(db) -> dict:
    """Released, unexpired materials and calibrated equipment for SHORT-TEST, plus bad ones."""
    future = site_today() + timedelta(days=200)
    items = {
        "MED-001": MaterialLot(lot_code="MED-001", item_code="MEDIUM-A", name="Basal medium", supplier="Acme",
                               supplier_lot="A1", status=MaterialStatus.RELEASED, expiry_date=future,
                               unit="mL", quantity_on_hand=Decimal("500")),
        "MED-Q": MaterialLot(lot_code="MED-Q", item_code="MEDIUM-A", name="Basal medium", supplier="Acme",
                             supplier_lot="A2", status=MaterialStatus.QUARANTINE, expiry_date=future, unit="mL"),
        "MED-OLD": MaterialLot(lot_code="MED-OLD", item_code="MEDIUM-A", name="Basal medium", supplier="Acme",
                               supplier_lot="A0", status=MaterialStatus.RELEASED,
                               expiry_date=site_today() - timedelta(days=1), unit="mL"),
        "VIAL-001": MaterialLot(lot_code="VIAL-001", item_code="CRYO-VIAL", name="Cryovial", supplier="Acme",
                                supplier_lot="V1", status=MaterialStatus.RELEASED, expiry_date=future, unit="vial"),
        "BSC-01": Equipment(code="BSC-01", type_code="BSC", name="Biosafety cabinet 1", calibration_due=future),
        "BSC-OLD": Equipment(code="BSC-OLD", type_code="BSC", name="Biosafety cabinet 2",
                             calibration_due=site_today() - timedelta(days=1)),
        "CNT-01": Equipment(code="CNT-01", type_code="COUNTER", name="Cell counter 1", calibration_due=future),
    }  # fmt: skip
    with audit.action(db, "test.stock", SYSTEM):
        db.add_all(items.values())
    return items


@pytest.fixture
def stock(db):
    return add_stock(db)


@pytest.fixture
def floor(db, make_user, short_template, stock):
    """A supervisor and two trained operators, and a lot started on SHORT-TEST."""
    supervisor = make_user("supervisor")
    op1, op2 = make_user("operator"), make_user("operator")
    for user in (supervisor, op1, op2):
        train(db, user, "SHORT-TEST")
    lot = services.start_lot(db, supervisor, short_template, "WCB-0042 vial 7", "{product}-{yyyy}-{seq:04d}")
    db.commit()

    class Floor:
        pass

    f = Floor()
    f.supervisor, f.op1, f.op2, f.lot, f.template, f.stock = supervisor, op1, op2, lot, short_template, stock
    f.step = lambda code: next(s for s in lot.steps if s.step_code == code)
    return f


@pytest.fixture
def autopilot_factory(db):
    def factory(performer, verifier, clock):
        return Autopilot(db, performer, verifier, PASSWORD, clock)

    return factory
