"""A whole lot of each shipped product, from start to release, through the real services only."""

from pathlib import Path

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from app.batches import services as batches
from app.batches.models import LotStatus
from app.common.timeutil import utcnow
from app.demo import _test_lot
from app.qc.models import SpecVersion
from app.release import services as release
from app.release.models import Disposition
from tests.conftest import PASSWORD
from tests.lot_fixtures import ROOT, creds, make_effective, train
from tests.qc.conftest import store_effective

pytestmark = pytest.mark.req("URS-REL-001")
SHIPPED = sorted((ROOT / "batch_templates").glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_a_shipped_product_lot_goes_from_start_to_release(db, make_user, autopilot_factory, path: Path):
    version = make_effective(db, path)
    store_effective(db, SpecVersion, ROOT / "qc_specs" / path.name)
    supervisor, op1, op2 = make_user("supervisor"), make_user("operator"), make_user("operator")
    analyst, reviewer, qa = make_user("qc_analyst"), make_user("qc_analyst"), make_user("qa")
    for user in (op1, op2):
        train(db, user, version.code)
    lot = batches.start_lot(db, supervisor, version, "WCB-0001 vial 1", "{product}-{yyyy}-{seq:04d}")
    db.commit()
    with freeze_time(utcnow(), tick=True) as clock:
        autopilot_factory(op1, op2, clock.move_to).run(lot)
        assert lot.status == LotStatus.EXECUTED
        _test_lot(db, lot, analyst, reviewer, PASSWORD)
        release.start_review(db, qa, lot)
        release.sign_review(db, qa, lot, creds(qa))
        assert release.release_refusals(db, lot, signer=qa) == []
        release.release(db, qa, lot, creds(qa), "Conforms to specification.")
        db.commit()
    assert lot.status == LotStatus.RELEASED and lot.dispositioned_at is not None
    disposition = db.scalar(select(Disposition).where(Disposition.lot_id == lot.id))
    assert disposition.decision == "released" and disposition.decided_by_id == qa.id
