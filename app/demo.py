"""Development only: the demo site `make run` shows (never in production; seed-demo refuses).

Three lots on one simulated timeline, executed, tested and dispositioned through the real
services with the demo users' real signatures: one released (with its documents), one
awaiting release with an open deviation, one in progress at a realistic point. Time is
simulated by the caller (freezegun in `flask seed-demo`), so the history spans weeks while
every timestamp stays in the past and in order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from flask import current_app
from sqlalchemy.orm import Session

from app.auth.models import User
from app.auth.services import find_user
from app.batches.models import Lot
from app.batches.services import StepInput, available_steps, start_lot
from app.batches.simulate import Autopilot
from app.common.db import commit
from app.common.timeutil import site_today, utcnow
from app.mbr.models import TemplateVersion
from app.mbr.services import effective_version
from app.qc import services as qc
from app.qc.spec_schema import TestDef
from app.release import services as release
from app.signatures.services import Credentials


@dataclass
class DemoLot:
    """One lot of the demo and how far it goes."""

    role: str
    code: str
    starts_after: timedelta
    lot: Lot | None = None
    overrides: dict[str, dict[str, StepInput]] = field(default_factory=dict)
    stop_at: datetime | None = None


def qc_value(test: TestDef) -> str:
    """A conforming, non-alert result for a QC test, as an analyst would type it."""
    if test.accepted:
        return test.accepted[0]
    quantum = Decimal(1).scaleb(-(test.decimals or 0))
    low = next((v for v in (test.alert_min, test.min) if v is not None), None)
    high = next((v for v in (test.alert_max, test.max) if v is not None), None)
    if low is not None and high is not None:
        return str(((low + high) / 2).quantize(quantum))
    if high is not None:
        return str((high / 4).quantize(quantum)) if (high / 4) >= (test.loq or 0) else f"<{test.loq}"
    return str((low + abs(low) / 20 + quantum).quantize(quantum)) if low is not None else "1"


def _creds(user: User, password: str) -> Credentials:
    return Credentials(password, user.username, True, True, "127.0.0.1")


def _test_lot(session: Session, lot: Lot, analyst: User, reviewer: User, password: str) -> None:
    """Enter a conforming result for every test of the specification and review each."""
    spec = qc.spec_for_lot(session, lot)
    for number, test in enumerate(spec.definition.tests, start=1):
        data = qc.ResultInput(test.code, f"{lot.lot_number}-QC{number:02d}", test.method, "QC-LAB-01",
                              site_today(), qc_value(test))  # fmt: skip
        result = qc.enter_result(session, analyst, lot, data)
        qc.review_result(session, reviewer, result, _creds(reviewer, password))
    session.commit()


def _next_step(pilot: Autopilot, started: list[DemoLot]) -> tuple[datetime, DemoLot, object] | None:
    """The step, among all started lots, that its hold windows allow first (None: nothing left)."""
    ready = []
    for demo in started:
        todo = available_steps(demo.lot)
        if todo:
            moment = pilot.earliest(demo.lot, todo[0])
            if demo.stop_at is None or moment < demo.stop_at:
                ready.append((moment, demo, todo[0]))
    return min(ready, key=lambda item: item[0]) if ready else None


def _run(session: Session, pilot: Autopilot, plan: list[DemoLot], people: dict, clock: Callable) -> None:
    """One simulated timeline: lots start at their times and steps run as soon as allowed."""
    origin, waiting, started = utcnow(), sorted(plan, key=lambda d: d.starts_after), []
    while True:
        step = _next_step(pilot, started)
        start_at = origin + waiting[0].starts_after if waiting else None
        if start_at is not None and (step is None or start_at <= step[0]):
            demo = waiting.pop(0)
            clock(start_at)
            version = effective_version(session, TemplateVersion, demo.code)
            material = f"WCB-{demo.code[:5]}-0007 vial {len(started) + 3}"
            # The site's own lot numbering and ISBT 128 FIN, as a supervisor's start would use.
            config = current_app.config
            demo.lot = start_lot(session, people["sup.sam"], version, material, config["LOT_NUMBER_PATTERN"],
                                 config["ISBT128_FIN"])  # fmt: skip
            started.append(demo)
        elif step is not None:
            _moment, demo, record = step
            pilot.do_step(demo.lot, record, demo.overrides.get(record.step_code))
        else:
            return
        session.commit()


def seed_lots(session: Session, password: str, clock: Callable[[datetime], None], end: datetime) -> list[str]:
    """Create the three demo lots between now (simulated, 75 days ago) and `end`."""
    people = {name: find_user(session, name) for name in
              ("sup.sam", "op.olivia", "op.oscar", "qc.quinn", "qc.ravi", "qa.alex", "qa.bea")}  # fmt: skip
    pilot = Autopilot(session, people["op.olivia"], people["op.oscar"], password, clock)
    released = DemoLot("released", "XS411-DA-NPC", timedelta(hours=2))
    awaiting = DemoLot("awaiting release, deviation open", "XS411-DA-NPC", timedelta(days=5), overrides={
        "UP1.OP2.S4": {"viability": StepInput("68.4", comment="Slow thaw: vial sat 4 min in the bath")}})
    _run(session, pilot, [released, awaiting], people, clock)
    for demo in (released, awaiting):
        clock(utcnow() + timedelta(days=1))
        _test_lot(session, demo.lot, people["qc.quinn"], people["qc.ravi"], password)
        release.start_review(session, people["qa.alex"], demo.lot)
        session.commit()
    clock(utcnow() + timedelta(hours=3))
    qa = people["qa.bea"]
    release.sign_review(session, qa, released.lot, _creds(qa, password))
    release.release(session, qa, released.lot, _creds(qa, password),
                    "All results within specification; batch record reviewed by exception.")  # fmt: skip
    commit(session)  # and render the lot's documents, as the release request does
    # The third lot started a week ago and is where the floor is now.
    running = DemoLot("in progress", "XS228-MN-NPC", end - timedelta(days=7) - utcnow(), stop_at=end)
    _run(session, pilot, [running], people, clock)
    return [f"{d.lot.lot_number}: {d.role} (status {d.lot.status})" for d in (released, awaiting, running)]
