"""Executing a lot: order, entries, limits, materials, equipment, holds, training, sign-offs."""

from datetime import timedelta
from decimal import Decimal

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from app.audit import capture as audit
from app.audit.capture import Actor
from app.audit.models import AuditEvent
from app.batches import services
from app.batches.models import LimitStatus, LotStatus, StepStatus
from app.batches.services import StepInput
from app.common.errors import NotPermitted, RuleViolation
from app.common.timeutil import utcnow
from app.deviations.models import Category, Deviation
from app.mbr.models import TemplateStatus
from tests.batches.conftest import creds, train


def _deviations(db, lot, category=None):
    query = select(Deviation).where(Deviation.lot_id == lot.id)
    if category:
        query = query.where(Deviation.category == category)
    return db.scalars(query).all()


def _do_s1(db, f, user=None):
    user = user or f.op1
    step = f.step("UP1.OP1.S1")
    services.record_and_sign(db, user, step, {"line_clear": StepInput("yes"), "bsc_id": StepInput("BSC-01")},
                             step.version_id, creds(user))  # fmt: skip
    db.commit()
    return step


@pytest.mark.req("URS-EXE-001")
def test_lot_numbers_follow_the_template_pattern_and_bind_the_version(db, floor, make_user):
    year = utcnow().year
    assert floor.lot.lot_number == f"ST-{year}-0001"
    second = services.start_lot(db, floor.supervisor, floor.template, "WCB-0042 vial 8", "{product}-{yyyy}-{seq:04d}")
    assert second.lot_number == f"ST-{year}-0002"
    assert floor.lot.template_version_id == floor.template.id
    assert [s.step_code for s in floor.lot.steps][:2] == ["UP1.OP1.S1", "UP1.OP1.S2"]
    assert floor.lot.status == LotStatus.IN_PROGRESS


@pytest.mark.req("URS-EXE-001", "URS-ACC-002")
def test_only_a_supervisor_starts_a_lot_and_only_on_an_effective_version(db, floor, make_user):
    with pytest.raises(NotPermitted):
        services.start_lot(db, floor.op1, floor.template, "WCB", "{seq}")
    with audit.action(db, "test.superseded", Actor.system("tests")):
        floor.template.status = TemplateStatus.SUPERSEDED
    with pytest.raises(RuleViolation, match="not in force"):
        services.start_lot(db, floor.supervisor, floor.template, "WCB", "{seq}")
    db.rollback()


@pytest.mark.req("URS-EXE-002")
def test_steps_run_in_template_order(db, floor):
    second = floor.step("UP1.OP1.S2")
    assert [s.step_code for s in services.available_steps(floor.lot)] == ["UP1.OP1.S1"]
    with pytest.raises(RuleViolation, match="complete UP1.OP1.S1 first"):
        services.save_entries(db, floor.op1, second, {"appearance": StepInput("Clear")}, second.version_id)


@pytest.mark.req("URS-EXE-002")
def test_parallel_branches_only_where_the_template_allows(db, floor, autopilot_factory):
    with freeze_time(utcnow(), tick=True) as clock:
        pilot = autopilot_factory(floor.op1, floor.op2, clock.move_to)
        pilot.run(floor.lot, steps=4)  # UP1 (3 steps) and UP2.OP1.S1
    available = {s.step_code for s in services.available_steps(floor.lot)}
    assert available == {"UP2.OP1.S2", "UP2.OP1.S3"}  # both require only S1


@pytest.mark.req("URS-EXE-003", "URS-DAT-002")
def test_bad_input_is_refused_per_field_and_nothing_is_saved(db, floor):
    step = floor.step("UP1.OP1.S1")
    before = db.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1))
    with pytest.raises(services.EntryRefused) as refused:
        services.save_entries(db, floor.op1, step, {"line_clear": StepInput("maybe"),
                                                    "bsc_id": StepInput("NO-SUCH-BSC")}, step.version_id)  # fmt: skip
    assert set(refused.value.field_errors) == {"line_clear", "bsc_id"}
    assert "NO-SUCH-BSC" in refused.value.field_errors["bsc_id"]
    db.rollback()
    assert step.entries == []
    assert db.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1)) == before


def _reach_count_step(db, f, clock):
    from app.batches.simulate import Autopilot
    from tests.conftest import PASSWORD

    Autopilot(db, f.op1, f.op2, PASSWORD, clock.move_to).run(f.lot, steps=3)
    return f.step("UP2.OP1.S1")


@pytest.mark.req("URS-EXE-004", "URS-DEV-001")
def test_alert_is_flagged_and_action_needs_a_comment_and_opens_a_deviation(db, floor):
    with freeze_time(utcnow(), tick=True) as clock:
        count = _reach_count_step(db, floor, clock)
    with pytest.raises(services.EntryRefused) as refused:
        services.save_entries(db, floor.op1, count, {"viability": StepInput("79.9")}, count.version_id)
    assert "comment" in refused.value.field_errors["viability"]
    db.rollback()
    services.save_entries(db, floor.op1, count, {"viability": StepInput("79.9", comment="Thaw took too long")},
                          count.version_id)  # fmt: skip
    db.commit()
    entry = count.current_entries[0]
    assert entry.limit_status == LimitStatus.ACTION
    deviation = _deviations(db, floor.lot, Category.LIMIT)[0]
    assert deviation.automatic and deviation.entry_id == entry.id and "79.9" in deviation.description


@pytest.mark.req("URS-EXE-004", "URS-QC-003")
def test_usp_rounding_decides_the_limit_boundary(db, floor):
    with freeze_time(utcnow(), tick=True) as clock:
        count = _reach_count_step(db, floor, clock)
    # action min 80.0, alert min 85.0, 1 decimal: 79.95 rounds to 80.0 (alert, not action).
    services.save_entries(db, floor.op1, count, {"viability": StepInput("79.95")}, count.version_id)
    db.commit()
    entry = count.current_entries[0]
    assert entry.value_decimal == Decimal("79.95") and entry.value_text == "79.95"
    assert entry.limit_status == LimitStatus.ALERT
    assert _deviations(db, floor.lot) == []


@pytest.mark.req("URS-EXE-006")
def test_materials_must_be_released_unexpired_and_the_right_item(db, floor):
    _do_s1(db, floor)
    step = floor.step("UP1.OP1.S2")
    for code, message in (("MED-Q", "quarantine"), ("MED-OLD", "expired"), ("VIAL-001", "MEDIUM-A")):
        with pytest.raises(services.EntryRefused) as refused:
            services.save_entries(db, floor.op1, step, {"medium": StepInput(code, "10.0")}, step.version_id)
        error = refused.value.field_errors["medium"]
        assert message in error.lower() or message in error
        db.rollback()
    services.save_entries(db, floor.op1, step, {"medium": StepInput("MED-001", "10.0")}, step.version_id)
    db.commit()
    assert floor.stock["MED-001"].quantity_on_hand == Decimal("490.0")
    assert step.current_entries[0].material_lot_id == floor.stock["MED-001"].id


@pytest.mark.req("URS-EXE-007")
def test_equipment_must_be_the_right_type_and_calibrated(db, floor):
    step = floor.step("UP1.OP1.S1")
    for code in ("BSC-OLD", "CNT-01"):
        with pytest.raises(services.EntryRefused):
            services.save_entries(db, floor.op1, step, {"bsc_id": StepInput(code)}, step.version_id)
        db.rollback()
    services.save_entries(db, floor.op1, step, {"bsc_id": StepInput("BSC-01")}, step.version_id)
    assert step.current_entries[0].equipment_id == floor.stock["BSC-01"].id


@pytest.mark.req("URS-EXE-008")
def test_untrained_or_expired_training_is_refused_with_the_reason(db, floor, make_user):
    stranger = make_user("operator")
    step = floor.step("UP1.OP1.S1")
    with pytest.raises(RuleViolation, match="trained"):
        services.save_entries(db, stranger, step, {"line_clear": StepInput("yes")}, step.version_id)
    db.rollback()
    train(db, stranger, "SHORT-TEST", days=10)
    with freeze_time(utcnow() + timedelta(days=12)), pytest.raises(RuleViolation, match="trained"):
        services.save_entries(db, stranger, step, {"line_clear": StepInput("yes")}, step.version_id)


@pytest.mark.req("URS-EXE-009")
def test_critical_step_needs_a_second_person_never_the_performer(db, floor):
    _do_s1(db, floor)
    step = floor.step("UP1.OP1.S2")
    values = {"medium": StepInput("MED-001", "5.0"), "appearance": StepInput("Clear")}
    services.record_and_sign(db, floor.op1, step, values, step.version_id, creds(floor.op1))
    db.commit()
    assert step.status == StepStatus.AWAITING_VERIFICATION
    with pytest.raises(RuleViolation, match="never the performer"):
        services.verify_step(db, floor.op1, step, creds(floor.op1), step.version_id)
    db.rollback()
    services.verify_step(db, floor.op2, step, creds(floor.op2), step.version_id)
    db.commit()
    assert step.status == StepStatus.COMPLETE and step.verified_by_id == floor.op2.id


@pytest.mark.req("URS-EXE-003")
def test_required_values_before_signing(db, floor):
    step = floor.step("UP1.OP1.S1")
    services.save_entries(db, floor.op1, step, {"line_clear": StepInput("yes")}, step.version_id)
    with pytest.raises(RuleViolation, match="every required value"):
        services.complete_step(db, floor.op1, step, creds(floor.op1), step.version_id)


@pytest.mark.req("URS-EXE-010", "URS-DEV-001", "URS-EXE-005")
def test_a_step_outside_its_hold_window_records_the_truth_and_opens_a_deviation(db, floor):
    with freeze_time(utcnow(), tick=True) as clock:
        _do_s1(db, floor)
        s2 = floor.step("UP1.OP1.S2")
        values = {"medium": StepInput("MED-001", "5.0"), "appearance": StepInput("Clear")}
        services.record_and_sign(db, floor.op1, s2, values, s2.version_id, creds(floor.op1))
        services.verify_step(db, floor.op2, s2, creds(floor.op2), s2.version_id)
        db.commit()
        clock.tick(timedelta(minutes=61))  # S3 must be done within 60 min of S2
        s3 = floor.step("UP1.OP1.S3")
        start = (utcnow() - timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
        stop = utcnow().strftime("%Y-%m-%dT%H:%M:%S+00:00")
        services.record_and_sign(db, floor.op1, s3, {"warming": StepInput(f"{start}/{stop}")}, s3.version_id,
                                 creds(floor.op1))  # fmt: skip
        db.commit()
    assert s3.status == StepStatus.COMPLETE
    assert s3.completed_at - s2.completed_at > timedelta(minutes=60)
    holds = _deviations(db, floor.lot, Category.HOLD_TIME)
    assert len(holds) == 1 and "UP1.OP1.S3" in holds[0].title


@pytest.mark.req("URS-EXE-010")
def test_within_the_hold_window_no_deviation(db, floor, autopilot_factory):
    with freeze_time(utcnow(), tick=True) as clock:
        autopilot_factory(floor.op1, floor.op2, clock.move_to).run(floor.lot, steps=3)
    assert _deviations(db, floor.lot) == []


@pytest.mark.req("URS-EXE-011", "URS-DEV-001")
def test_yield_outside_range_opens_a_deviation(db, floor):
    with freeze_time(utcnow(), tick=True) as clock:
        count = _reach_count_step(db, floor, clock)
        services.record_and_sign(db, floor.op1, count, {"counter_id": StepInput("CNT-01"),
                                                        "viable_cells": StepInput("40.0"),
                                                        "viability": StepInput("92.0")}, count.version_id,
                                 creds(floor.op1))  # fmt: skip
        db.commit()
    yields = _deviations(db, floor.lot, Category.YIELD)
    assert len(yields) == 1 and "40" in yields[0].description


@pytest.mark.req("URS-EXE-002", "URS-EXE-005")
def test_the_whole_short_template_runs_to_executed(db, floor, autopilot_factory):
    with freeze_time(utcnow(), tick=True) as clock:
        done = autopilot_factory(floor.op1, floor.op2, clock.move_to).run(floor.lot)
    assert done == len(floor.lot.steps)
    assert floor.lot.status == LotStatus.EXECUTED and floor.lot.executed_at is not None
    with pytest.raises(RuleViolation, match="executed"):
        services.save_entries(db, floor.op1, floor.lot.steps[0], {}, None)
