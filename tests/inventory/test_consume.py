"""Consuming stock at a step: exact decrements, never more than on hand, no lost update."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from app.audit import capture as audit
from app.audit.capture import Actor
from app.auth import services as users
from app.auth.policy import AccountPolicy
from app.common.db import unit_of_work
from app.common.errors import ConcurrentChange, RuleViolation
from app.common.timeutil import site_today
from app.extensions import db as _db
from app.inventory import services
from app.inventory.models import MaterialLot
from tests.auth.helpers import changes, details, events
from tests.conftest import PASSWORD, run_in_threads
from tests.inventory.conftest import receive, released

pytestmark = pytest.mark.req("URS-MAT-004")

STEP = Actor.system("tests: step")


def test_consume_decrements_the_stock_and_is_audited(db, qa, operator):
    lot = released(db, qa, quantity=Decimal("100.0"))
    services.consume(db, lot, Decimal("12.5"), operator)
    assert lot.quantity_on_hand == Decimal("87.5")
    [event] = events(db, "material_lot.consumed")
    assert event.actor_id == operator.id and event.reason is None  # a workflow change: no reason asked
    assert changes(event)["quantity_on_hand"] == ["100.0", "87.5"]
    assert details(event)["quantity"] == "12.5"


def test_more_than_on_hand_is_refused_and_nothing_changes(db, qa):
    lot = released(db, qa, quantity=Decimal("10"))
    with pytest.raises(RuleViolation, match=r"Only 10 µL of lot ML-0001 is on hand"):
        services.consume(db, lot, Decimal("10.1"), STEP)
    services.consume(db, lot, Decimal("10"), STEP)  # all of it is fine
    assert lot.quantity_on_hand == Decimal("0")
    with pytest.raises(RuleViolation, match="used up"):
        services.usable_material_lot(db, "ML-0001", "SB431542", site_today())


def test_untracked_stock_and_unmeasured_use_change_nothing(db, qa):
    untracked = released(db, qa, "ML-U", quantity=None)
    tracked = released(db, qa, "ML-T", quantity=Decimal("5"))
    services.consume(db, untracked, Decimal("3"), STEP)
    services.consume(db, tracked, None, STEP)
    assert (untracked.quantity_on_hand, tracked.quantity_on_hand) == (None, Decimal("5"))
    assert events(db, "material_lot.consumed") == []


@pytest.mark.parametrize(("quantity", "unit", "message"), [
    (Decimal("0"), None, "more than zero"),
    (Decimal("-1"), None, "more than zero"),
    (Decimal("NaN"), None, "more than zero"),
    (Decimal("1"), "mL", "counted in µL, not mL"),
])  # fmt: skip
def test_consume_refuses_nonsense_quantities(db, qa, quantity, unit, message):
    lot = released(db, qa)
    with pytest.raises(RuleViolation, match=message):
        services.consume(db, lot, quantity, STEP, unit=unit)


@pytest.mark.req("URS-EXE-006")
def test_only_released_lots_are_consumed(db, qa):
    lot = receive(db, qa)
    with pytest.raises(RuleViolation, match="only released lots"):
        services.consume(db, lot, Decimal("1"), STEP)


@pytest.mark.req("URS-DAT-002")
def test_a_lot_saved_meanwhile_by_someone_else_is_a_concurrent_change(db, qa):
    lot = released(db, qa, quantity=Decimal("100"))
    # Another transaction consumed and committed after this one read the lot (same version read).
    db.connection().execute(text("UPDATE material_lots SET quantity_on_hand = '70', version_id = version_id + 1 "
                                 "WHERE id = :id"), {"id": lot.id})  # fmt: skip
    with pytest.raises(ConcurrentChange, match="changed by someone else"):
        services.consume(db, lot, Decimal("40"), STEP)


@pytest.mark.req("URS-EXE-013")
@pytest.mark.postgres
@pytest.mark.parametrize("amount", ["30", "60"])
def test_two_steps_consuming_one_lot_at_once_never_lose_an_update(committing_app, amount):
    """Real threads, real commits: both read version 1, one saves, the other is refused."""
    with committing_app.app_context(), unit_of_work(_db.session) as session:
        qa = _committed_qa(session)
        lot_id = released(session, qa, "ML-RACE", quantity=Decimal("100")).id
    both_read = threading.Barrier(2)

    def step(_: int) -> str:
        session = _db.session
        lot = session.scalar(select(MaterialLot).where(MaterialLot.id == lot_id))
        assert lot.quantity_on_hand == Decimal("100")
        both_read.wait()  # each holds the lot as read at version 1
        with unit_of_work(session):
            services.consume(session, lot, Decimal(amount), STEP)
        return "saved"

    results = run_in_threads(committing_app, step)
    assert sorted(map(type, results), key=str) == sorted([str, ConcurrentChange], key=str), results
    with committing_app.app_context():
        lot = _db.session.get(MaterialLot, lot_id)
        assert lot.quantity_on_hand == Decimal(100) - Decimal(amount)
        assert lot.version_id == 3  # received+released, then exactly one consumption
        assert len(events(_db.session, "material_lot.consumed")) == 1


def _committed_qa(session):  # type: ignore[no-untyped-def]
    user = users.create_user(session, None, "qa.race", "QA Race", ["qa"], PASSWORD, AccountPolicy())
    with audit.action(session, "test.user_ready", Actor.system("tests")):
        user.must_change_password = False
    return user
