"""Fixtures for the deviation tests: lots in any status (with a step and an entry) and people."""

from __future__ import annotations

from collections.abc import Callable
from itertools import count

import pytest

from app.audit import capture as audit
from app.audit.capture import Actor
from app.batches.models import Entry, Lot, LotStatus, StepRecord
from tests.mbr.helpers import SHORT, load_file

TESTS = Actor.system("tests")


@pytest.fixture
def people(make_user):  # type: ignore[no-untyped-def]
    return {role: make_user(role) for role in ("operator", "supervisor", "qa", "qc_analyst", "auditor", "admin")}


@pytest.fixture
def make_lot(db, people) -> Callable[..., Lot]:  # type: ignore[no-untyped-def]
    """Lots stored directly in a given status (execution itself is tested under tests/batches)."""
    version, _ = load_file(db, SHORT)
    numbers = count(1)

    def factory(status: LotStatus = LotStatus.IN_PROGRESS) -> Lot:
        lot = Lot(lot_number=f"ST-2026-{next(numbers):04d}", product=version.product, status=status,
                  template_version_id=version.id, started_by_id=people["supervisor"].id)  # fmt: skip
        with audit.action(db, "test.lot", TESTS):
            db.add(lot)
        db.commit()
        return lot

    return factory


def step_with_entry(db, lot: Lot, user) -> tuple[StepRecord, Entry]:  # type: ignore[no-untyped-def]
    """A step of `lot` with one recorded value outside its action limit."""
    step = StepRecord(lot_id=lot.id, step_code="UP2.OP1.S1", seq=4)
    with audit.action(db, "test.step", TESTS):
        db.add(step)
        db.flush()
        entry = Entry(lot_id=lot.id, step_record_id=step.id, input_name="viability", value_text="78.0", unit="%",
                      entered_by_id=user.id, limit_message="viability 78.0 % below action limit 80.0")  # fmt: skip
        db.add(entry)
    db.commit()
    return step, entry
