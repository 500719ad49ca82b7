"""Corrections never overwrite: the old value stays visible and signatures must be redone."""

import pytest
from freezegun import freeze_time

from app.batches import services
from app.batches.models import LotStatus, StepStatus
from app.batches.services import StepInput
from app.batches.services.overview import lot_overview, step_signatures
from app.common.errors import RuleViolation
from app.common.timeutil import utcnow
from tests.batches.conftest import creds

pytestmark = pytest.mark.req("URS-EXE-012")


def _signed_s1(db, f):
    step = f.step("UP1.OP1.S1")
    services.record_and_sign(db, f.op1, step, {"line_clear": StepInput("yes"), "bsc_id": StepInput("BSC-01")},
                             step.version_id, creds(f.op1))  # fmt: skip
    db.commit()
    return step


@pytest.mark.req("URS-SIG-006", "URS-DAT-001")
def test_a_correction_adds_a_value_keeps_the_old_and_invalidates_signatures(db, floor):
    step = _signed_s1(db, floor)
    [old] = [e for e in step.current_entries if e.input_name == "line_clear"]
    assert all(v.valid for v in step_signatures(db, step))
    new = services.correct_entry(db, floor.op1, old, StepInput("no", comment="Cabinet not cleared"),
                                 "Wrong box ticked")  # fmt: skip
    db.commit()
    assert old.superseded_by_id == new.id and new.corrects_id == old.id
    assert new.correction_reason == "Wrong box ticked"
    assert {e.value_text for e in step.entries if e.input_name == "line_clear"} == {"yes", "no"}
    [view] = step_signatures(db, step)
    assert not view.valid
    assert view.invalidated_by is not None and view.invalidated_by.reason == "Wrong box ticked"
    assert step.status == StepStatus.IN_PROGRESS
    services.complete_step(db, floor.op1, step, creds(floor.op1), step.version_id)
    db.commit()
    views = step_signatures(db, step)
    assert [v.valid for v in views] == [False, True]


@pytest.mark.req("URS-AUD-003")
def test_a_correction_needs_a_reason_and_a_different_value(db, floor):
    step = _signed_s1(db, floor)
    entry = step.current_entries[0]
    with pytest.raises(RuleViolation, match="reason"):
        services.correct_entry(db, floor.op1, entry, StepInput("no"), "  ")
    with pytest.raises(RuleViolation, match="same"):
        services.correct_entry(db, floor.op1, entry, StepInput(entry.value_text), "typo")


def test_a_superseded_value_can_not_be_corrected_again(db, floor):
    step = _signed_s1(db, floor)
    entry = next(e for e in step.current_entries if e.input_name == "line_clear")
    services.correct_entry(db, floor.op1, entry, StepInput("no", comment="Not cleared"), "Wrong box")
    db.commit()
    with pytest.raises(RuleViolation, match="already corrected"):
        services.correct_entry(db, floor.op1, entry, StepInput("yes"), "Back again")


def test_correcting_an_executed_lot_puts_it_back_in_progress(db, floor, autopilot_factory):
    with freeze_time(utcnow(), tick=True) as clock:
        autopilot_factory(floor.op1, floor.op2, clock.move_to).run(floor.lot)
    assert floor.lot.status == LotStatus.EXECUTED
    entry = floor.step("UP2.OP1.S3").current_entries[-1]
    services.correct_entry(db, floor.op1, entry, StepInput("Re-checked"), "Comment was incomplete")
    db.commit()
    assert floor.lot.status == LotStatus.IN_PROGRESS
    overview = lot_overview(db, floor.lot)
    assert any(kind == "correction" for kind, _, _ in overview.exceptions)
