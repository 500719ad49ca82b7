"""What the shop-floor pages read does not grow with the lot (issue #10): a step page reads the lot,
the status of its steps and its own entries, never every entry of the lot; the worklist reads the
steps of all its lots at once. Counts are compared with themselves, not with a number of queries."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from freezegun import freeze_time
from sqlalchemy import event

from app.batches import services
from app.batches.models import Entry, StepStatus
from app.common.timeutil import utcnow
from app.extensions import db as _db
from tests.conftest import PASSWORD


@dataclass
class Reads:
    statements: int = 0
    entries: int = 0


@contextmanager
def reads(app) -> Iterator[Reads]:  # type: ignore[no-untyped-def]
    """SQL statements sent and Entry rows turned into objects while the block runs."""
    seen = Reads()

    def statement(*_args) -> None:  # type: ignore[no-untyped-def]
        seen.statements += 1

    def entry(*_args) -> None:  # type: ignore[no-untyped-def]
        seen.entries += 1

    with app.app_context():
        engine = _db.engine
    event.listen(engine, "before_cursor_execute", statement)
    event.listen(Entry, "load", entry)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(Entry, "load", entry)


def _page(app, client, lot, step) -> Reads:  # type: ignore[no-untyped-def]
    with reads(app) as seen:
        response = client.get(f"/lots/{lot.id}/steps/{step.id}")
        assert response.status_code == 200, response.headers.get("Location")
    return seen


@pytest.mark.req("URS-PRF-001")
def test_a_step_page_reads_the_same_whatever_was_recorded_in_the_rest_of_the_lot(
    app, db, floor, login, autopilot_factory
):  # fmt: skip
    client = login(floor.op1)
    first = _page(app, client, floor.lot, floor.step("UP1.OP1.S1"))
    with freeze_time(utcnow(), tick=True) as clock:
        done = autopilot_factory(floor.op1, floor.op2, clock.move_to).run(floor.lot, steps=4)
        db.commit()
        client = app.test_client()  # the simulated hours ended the first session
        assert client.post("/login", data={"username": floor.op1.username, "password": PASSWORD}).status_code == 302
        pending = next(s for s in floor.lot.steps if s.status == StepStatus.PENDING and not s.entries)
        later = _page(app, client, floor.lot, pending)
        recorded = floor.step("UP1.OP1.S1")
        own = _page(app, client, floor.lot, recorded)
    assert done == 4 and sum(len(s.entries) for s in floor.lot.steps) > len(recorded.entries) > 0
    assert later.statements == first.statements and later.entries == first.entries == 0
    assert own.entries == len(recorded.entries)  # its own entries only


@pytest.mark.req("URS-PRF-001")
def test_the_worklist_reads_the_same_for_one_lot_or_three(app, db, floor, login):
    client = login(floor.op1)
    with reads(app) as one:
        assert client.get("/lots/").status_code == 200
    for vial in (8, 9):
        services.start_lot(db, floor.supervisor, floor.template, f"WCB-0042 vial {vial}", "{product}-{seq:04d}")
    db.commit()
    with reads(app) as three:
        page = client.get("/lots/").get_data(as_text=True)
    assert page.count("UP1.OP1.S1") == 3
    assert three.statements == one.statements and three.entries == one.entries == 0


@pytest.mark.req("URS-SIG-003")
def test_the_policy_is_asked_for_until_accepted_and_again_for_a_new_version(app, floor, login, monkeypatch):
    client = login(floor.op1)
    first, second = floor.step("UP1.OP1.S1"), floor.step("UP1.OP1.S2")
    shown = "E-signature policy (version"
    assert shown in client.get(f"/lots/{floor.lot.id}/steps/{first.id}").get_data(as_text=True)
    signed = client.post(f"/lots/{floor.lot.id}/steps/{first.id}", data={
        "expected_version": str(first.version_id), "in_line_clear": "yes", "in_bsc_id": "BSC-01",
        "action": "complete", "sig_username": floor.op1.username, "sig_password": PASSWORD, "sig_accept_policy": "y",
    })  # fmt: skip
    assert signed.status_code == 302
    assert shown not in client.get(f"/lots/{floor.lot.id}/steps/{second.id}").get_data(as_text=True)
    monkeypatch.setitem(app.config, "ESIG_POLICY_VERSION", "2")
    assert shown in client.get(f"/lots/{floor.lot.id}/steps/{second.id}").get_data(as_text=True)
