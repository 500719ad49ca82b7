"""Each shipped master batch record executes to the end through the real services."""

from pathlib import Path

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from app.batches import services
from app.batches.models import LotStatus, StepStatus
from app.common.timeutil import utcnow
from app.deviations.models import Deviation
from app.signatures.models import Signature
from tests.batches.conftest import ROOT, make_effective, train

SHIPPED = sorted((ROOT / "batch_templates").glob("*.yaml"))


@pytest.mark.req("URS-MBR-006", "URS-EXE-002")
@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_a_shipped_template_executes_to_the_end_within_limits(db, make_user, autopilot_factory, path: Path):
    version = make_effective(db, path)
    supervisor, op1, op2 = make_user("supervisor"), make_user("operator"), make_user("operator")
    for user in (op1, op2):
        train(db, user, version.code)
    lot = services.start_lot(db, supervisor, version, "WCB-0001 vial 1", "{product}-{yyyy}-{seq:04d}")
    db.commit()
    with freeze_time(utcnow(), tick=True) as clock:
        done = autopilot_factory(op1, op2, clock.move_to).run(lot)
    definition = version.definition
    assert done == len(definition.steps) >= 40
    assert lot.status == LotStatus.EXECUTED
    assert all(s.status == StepStatus.COMPLETE for s in lot.steps)
    assert db.scalars(select(Deviation).where(Deviation.lot_id == lot.id)).all() == []
    signatures = db.scalars(select(Signature).where(Signature.lot_id == lot.id)).all()
    critical = sum(1 for s in definition.steps if s.critical)
    assert len(signatures) == len(definition.steps) + critical
    assert {s.signer_id for s in signatures if s.meaning == "verified"} == {op2.id}
