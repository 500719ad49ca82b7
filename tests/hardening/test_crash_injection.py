"""Crashes (issue #11 point 3; 21 CFR 11.10(c), (e); EU GMP Annex 11 §5).

Each multi-step service (sign + step completion, verification, correction, release, rejection, the
rendering of their documents after the decision, deviation closure, template approval and making a
version effective) is run through app.common.db.unit_of_work with a crash injected after its 1st
flush, then after its 2nd, and so on until a run gets through: every point at which a worker could
die between two writes of the action. After each crash every table holds exactly the rows it held
before (a dump of all tables, compared value for value) and the audit chain verifies; the run that
gets through changed the database, and only as its audit trail says.

On PostgreSQL a gunicorn worker is SIGKILLed while the lot's PDFs render after QA's release
committed: the decision stands, nothing committed is lost, no document is half stored, the lot's
documents are pending and `flask documents render-pending` renders them; `flask audit verify`
passes. (A death inside the decision's own transaction is what the crash sweeps above cover.)
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app.audit.capture import Actor
from app.audit.chain import verify_chain
from app.audit.integrity import check_all
from app.batches import services as batches
from app.batches.models import Lot, LotStatus, StepRecord, StepStatus
from app.batches.services import StepInput
from app.batches.simulate import Autopilot
from app.common.db import unit_of_work
from app.deviations import services as deviations
from app.documents import services as documents
from app.extensions import db as _db
from app.mbr import services as definitions
from app.mbr.models import TemplateVersion
from app.mbr.schema import parse_template
from app.qc.models import SpecVersion
from app.release import services as release
from app.release.models import Disposition
from config import BASE_DIR
from tests.conftest import PASSWORD
from tests.hardening.conftest import cheap_documents, dump_tables, migrated_app, reflect, user_factory
from tests.lot_fixtures import SHORT, creds
from tests.qc.conftest import SHORT_SPEC, Lab, build_lab, store_effective

pytestmark = pytest.mark.req("URS-DAT-002", "URS-SIG-004", "URS-REL-006")


class InjectedCrash(Exception):
    """Stands for anything that kills the action half-way: a bug, a lost connection, a SIGKILL."""


def _crash_after_flush(session, nth: int) -> Callable[[], None]:  # type: ignore[no-untyped-def]
    """Make the session's `nth` flush (autoflushes and the commit's included) raise once it is done."""
    target = session()  # the scoped session's Session
    original = target.flush
    count = 0

    def flush(*args: Any, **kwargs: Any) -> None:
        nonlocal count
        original(*args, **kwargs)
        count += 1
        if count == nth:
            raise InjectedCrash(f"crash after flush {nth}")

    target.flush = flush
    return lambda: target.__dict__.pop("flush", None)


def crash_sweep(session, action: Callable[[Any], object]) -> int:  # type: ignore[no-untyped-def]
    """Crash `action` after each of its flushes in turn; return how many flushes it has."""
    metadata = reflect(session.connection())
    before = dump_tables(session.connection(), metadata=metadata)
    nth = 1
    while True:
        restore = _crash_after_flush(session, nth)
        crashed = False
        try:
            with unit_of_work(session):
                action(session)
        except InjectedCrash:
            crashed = True
        finally:
            restore()
        if not crashed:
            break
        after = dump_tables(session.connection(), metadata=metadata)
        changed = {name: (len(before[name]), len(after[name])) for name in before if before[name] != after[name]}
        assert not changed, f"a crash after flush {nth} left changes (table: rows before, after): {changed}"
        assert verify_chain(session.connection()).ok
        nth += 1
        assert nth < 200, "the action never completes"
    after = dump_tables(session.connection(), metadata=metadata)
    assert after != before, "the action, run to its end, changed nothing"
    assert verify_chain(session.connection()).ok
    assert check_all(session.connection(), _db.Model) == []
    return nth - 1


def _pilot(db, floor) -> Autopilot:  # type: ignore[no-untyped-def]
    # Real time (no simulated clock): the SHORT-TEST hold windows allow it.
    return Autopilot(db, floor.op1, floor.op2, PASSWORD, lambda _moment: None)


def _step(db, step_id: int) -> StepRecord:  # type: ignore[no-untyped-def]
    return db.get(StepRecord, step_id)


def test_record_and_sign_with_a_limit_deviation_and_a_yield_check(db, floor):
    pilot = _pilot(db, floor)
    pilot.run(floor.lot, steps=3)
    step_id = floor.step("UP2.OP1.S1").id
    inputs = {"counter_id": StepInput("CNT-01"), "viable_cells": StepInput("20.0", comment="Low count, see DEV"),
              "viability": StepInput("79.0", comment="Below the action limit: deviation")}  # fmt: skip

    def act(session) -> None:  # type: ignore[no-untyped-def]
        step = _step(session, step_id)
        batches.record_and_sign(session, floor.op1, step, inputs, step.version_id, creds(floor.op1), "Counted")

    flushes = crash_sweep(db, act)
    step = _step(db, step_id)
    assert step.status == StepStatus.AWAITING_VERIFICATION and flushes >= 5
    assert len(deviations.for_lot(db, floor.lot.id)) == 2  # the viability action limit and the yield


def _sign_inputs(pilot: Autopilot, step: StepRecord) -> dict[str, StepInput]:
    definition = step.lot.template_version.definition
    step_def = definition.step(step.step_code)
    return {i.name: pilot.value_for(definition, step_def, i) for i in step_def.inputs}


def test_verifying_a_critical_step(db, floor):
    pilot = _pilot(db, floor)
    pilot.run(floor.lot, steps=1)
    step = floor.step("UP1.OP1.S2")
    batches.record_and_sign(db, floor.op1, step, _sign_inputs(pilot, step), step.version_id, creds(floor.op1))
    db.commit()
    step_id = step.id

    def act(session) -> None:  # type: ignore[no-untyped-def]
        step = _step(session, step_id)
        batches.verify_step(session, floor.op2, step, creds(floor.op2), step.version_id, "Checked")

    crash_sweep(db, act)
    assert (_step(db, step_id).status, _step(db, step_id).verified_by_id) == (StepStatus.COMPLETE, floor.op2.id)


def test_signing_the_last_step_completes_the_lot(db, floor):
    pilot = _pilot(db, floor)
    pilot.run(floor.lot, steps=5)
    [last] = [s for s in floor.lot.steps if s.status != StepStatus.COMPLETE]
    step_id, lot_id, inputs = last.id, floor.lot.id, _sign_inputs(pilot, last)

    def act(session) -> None:  # type: ignore[no-untyped-def]
        step = _step(session, step_id)
        batches.record_and_sign(session, floor.op1, step, inputs, step.version_id, creds(floor.op1))

    crash_sweep(db, act)
    assert db.get(Lot, lot_id).status == LotStatus.EXECUTED


def test_correcting_an_executed_lot(db, floor):
    _pilot(db, floor).run(floor.lot)
    entry = next(e for e in floor.step("UP2.OP1.S1").current_entries if e.input_name == "viability")
    entry_id, lot_id = entry.id, floor.lot.id

    def act(session) -> None:  # type: ignore[no-untyped-def]
        batches.correct_entry(session, floor.op1, batches.get_entry(session, entry_id),
                              StepInput("79.5", comment="Below the action limit"), "Transcription error")  # fmt: skip

    crash_sweep(db, act)
    assert db.get(Lot, lot_id).status == LotStatus.IN_PROGRESS


@pytest.fixture
def under_review(db, make_user):  # type: ignore[no-untyped-def]
    lab = build_lab(db, make_user)
    lot = lab.lot()
    lab.pass_qc(lot)
    release.start_review(db, lab.qa1, lot)
    release.sign_review(db, lab.qa1, lot, creds(lab.qa1))
    db.commit()
    return lab, lot.id


@pytest.mark.parametrize("decision", ["release", "reject"])
def test_release_or_rejection_then_its_documents(db, under_review, decision, monkeypatch):
    lab, lot_id = under_review

    def act(session) -> None:  # type: ignore[no-untyped-def]
        lot = session.get(Lot, lot_id)
        if decision == "release":
            release.release(session, lab.qa2, lot, creds(lab.qa2), "Meets specification")
        else:
            release.reject(session, lab.qa2, lot, creds(lab.qa2), "Trend outside the validated range")

    # The decision's own transaction first; its documents are rendered after it commits (below).
    monkeypatch.setattr(release, "DISPOSITION_HOOKS", [])
    flushes = crash_sweep(db, act)
    assert db.scalar(sa.select(Disposition.decision).where(Disposition.lot_id == lot_id)) == (
        "released" if decision == "release" else "rejected")  # fmt: skip
    assert flushes >= 4
    assert documents.pending_kinds(db, db.get(Lot, lot_id)) == list(documents.DISPOSITION_KINDS)
    with cheap_documents():  # all three documents are stored together, or none is
        crash_sweep(db, lambda session: documents.render_pending(session, lot_id, Actor.of(lab.qa2)))
    assert documents.pending_kinds(db, db.get(Lot, lot_id)) == []


def test_closing_a_deviation(db, under_review):
    lab, lot_id = under_review
    deviation = deviations.raise_manual(db, lab.op1, lot_id, "procedural", "minor", "Label jam", "Reprinted.")
    deviations.record_investigation(db, lab.qa1, deviation, "Worn head", "None", "CAPA-9")
    db.commit()
    deviation_id = deviation.id

    def act(session) -> None:  # type: ignore[no-untyped-def]
        deviations.close(session, lab.qa2, deviations.get(session, deviation_id), creds(lab.qa2), "Closed")

    crash_sweep(db, act)
    assert deviations.get(db, deviation_id).status == "closed"


def test_approving_and_making_a_template_effective(db, make_user):
    author, qa = make_user("supervisor"), make_user("qa")
    current = store_effective(db, TemplateVersion, SHORT)
    text = SHORT.read_text().replace("title: Short test process", "title: Short test process (rev. 2)")
    draft, _ = definitions.load_upload(db, TemplateVersion, parse_template, text.encode(), SHORT.name, author)
    db.commit()
    draft_id, current_id = draft.id, current.id

    def approve(session) -> None:  # type: ignore[no-untyped-def]
        definitions.approve(session, qa, session.get(TemplateVersion, draft_id), creds(qa), "Reviewed")

    def make_effective(session) -> None:  # type: ignore[no-untyped-def]
        definitions.make_effective(session, qa, session.get(TemplateVersion, draft_id), None, "CC-2026-1")

    crash_sweep(db, approve)
    crash_sweep(db, make_effective)
    assert (db.get(TemplateVersion, draft_id).status, db.get(TemplateVersion, current_id).status) == (
        "effective", "superseded")  # fmt: skip


# ---- a worker killed in the middle of a request (PostgreSQL) -------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Browser:
    """Cookies and CSRF tokens over real HTTP (the development config keeps CSRF on)."""

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=60) as response:
            return response.read().decode()

    def post(self, path: str, form_page: str, data: dict[str, str], timeout: float = 120) -> int:
        # A prefixed form (release-...) names its token release-csrf_token; the value is the session's.
        token = re.search(r'<input[^>]*name="(?:\w+-)?csrf_token"[^>]*value="([^"]+)"', self.get(form_page)).group(1)
        prefix = next((key.split("-")[0] + "-" for key in data if "-" in key), "")
        body = urllib.parse.urlencode({**data, f"{prefix}csrf_token": token}).encode()
        try:
            request = urllib.request.Request(self.base + path, body)  # noqa: S310 - http://127.0.0.1 only
            with self.opener.open(request, timeout=timeout) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            self.last_error = exc.read().decode(errors="replace")
            return exc.code


def _ready_for_release(session) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    """Commit a reviewed lot ready for release; return its id and the releasing QA's username."""
    make = user_factory(session)
    people = [make(role) for role in ("operator", "operator", "qc_analyst", "qc_analyst", "qa", "qa")]
    lab = Lab(
        session,
        *people,
        store_effective(session, TemplateVersion, SHORT),
        store_effective(session, SpecVersion, SHORT_SPEC),
    )
    session.commit()
    lot = lab.lot()
    lab.pass_qc(lot)
    release.start_review(session, lab.qa1, lot)
    release.sign_review(session, lab.qa1, lot, creds(lab.qa1))
    session.commit()
    return lot.id, lab.qa2.username


def _worker_pid(master: int) -> int | None:
    children = Path(f"/proc/{master}/task/{master}/children")
    pids = children.read_text().split() if children.exists() else []
    return int(pids[0]) if pids else None


@pytest.mark.postgres
def test_a_worker_killed_while_a_release_renders_its_documents_loses_nothing(pg_databases, tmp_path):
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent))
    if gunicorn is None:
        pytest.skip("gunicorn is not installed in this environment")
    name = pg_databases.create("kill")
    url = pg_databases.url(name)
    app = migrated_app(url)
    with app.app_context():
        lot_id, qa = _ready_for_release(_db.session)
        _db.session.remove()
    port = _free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CELLBATCH_")},
           "CELLBATCH_ENV": "development", "CELLBATCH_DATABASE_URL": url, "CELLBATCH_SECRET_KEY": "k" * 48,
           "CELLBATCH_INSTANCE_PATH": str(tmp_path / "instance")}  # fmt: skip
    log = (tmp_path / "gunicorn.log").open("w")
    server = subprocess.Popen([gunicorn, "--workers", "1", "--bind", f"127.0.0.1:{port}", "--timeout", "300",  # noqa: S603
                               "app.wsgi:app"], cwd=BASE_DIR, env=env, stdout=log, stderr=log)  # fmt: skip
    try:
        browser = Browser(f"http://127.0.0.1:{port}")
        for _ in range(120):
            try:
                browser.get("/login")
                break
            except OSError:
                time.sleep(0.5)
        assert browser.post("/login", "/login", {"username": qa, "password": PASSWORD}) in (200, 302)
        with app.app_context(), _db.engine.connect() as connection:
            metadata = reflect(connection)
            before = dump_tables(connection, metadata=metadata)
        result: dict[str, Any] = {}
        released = sa.text("SELECT count(*) FROM dispositions d JOIN lots l ON l.id = d.lot_id "
                           "WHERE l.id = :lot AND l.status = 'released'")  # fmt: skip
        stored = sa.text("SELECT count(*) FROM documents WHERE lot_id = :lot")

        def release_request() -> None:
            try:
                result["status"] = browser.post(f"/release/lots/{lot_id}/release", f"/release/lots/{lot_id}", {
                    "release-sig_username": qa, "release-sig_password": PASSWORD, "release-sig_accept_policy": "y",
                    "release-sig_comment": "Meets specification"})  # fmt: skip
            except Exception as exc:  # noqa: BLE001 - the worker dies under it: expected
                result["error"] = exc

        thread = threading.Thread(target=release_request)
        thread.start()
        # In flight: the decision committed, the request still runs (its PDFs render).
        in_flight = False
        for _ in range(1200):
            with app.app_context(), _db.engine.connect() as connection:
                in_flight = bool(connection.execute(released, {"lot": lot_id}).scalar()) and thread.is_alive()
                in_flight = in_flight and not connection.execute(stored, {"lot": lot_id}).scalar()
            if in_flight or not thread.is_alive():
                break
            time.sleep(0.02)
        assert in_flight, f"the rendering was never seen in flight: {result} {getattr(browser, 'last_error', '')}"
        worker = _worker_pid(server.pid)
        assert worker is not None
        os.kill(worker, signal.SIGKILL)
        thread.join(timeout=60)
        assert "status" not in result or result["status"] >= 500, result
        with app.app_context(), _db.engine.connect() as connection:
            for _ in range(100):  # the server notices the dead connection and rolls its transaction back
                if not connection.execute(sa.text("SELECT count(*) FROM pg_stat_activity WHERE datname = :d "
                                                  "AND backend_xid IS NOT NULL"), {"d": name}).scalar():  # fmt: skip
                    break
                time.sleep(0.1)
            after = dump_tables(connection, metadata=metadata)
            documents_after_kill = connection.execute(stored, {"lot": lot_id}).scalar()
        changed = {table: [row for row in rows if row not in set(after[table])] for table, rows in before.items()}
        assert {table: len(rows) for table, rows in changed.items() if rows} == {"lots": 1}  # its status only
        assert documents_after_kill in (0, 3)  # stored together in one short transaction, or not at all
        rendered = app.test_cli_runner().invoke(args=["documents", "render-pending"])
        assert rendered.exit_code == 0, rendered.output
        verified = app.test_cli_runner().invoke(args=["audit", "verify"])
        assert verified.exit_code == 0, verified.output
        with app.app_context():
            lot = _db.session.get(Lot, lot_id)
            assert lot.status == LotStatus.RELEASED
            assert documents.pending_kinds(_db.session, lot) == []
            _db.session.remove()
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        with app.app_context():
            _db.engine.dispose()
