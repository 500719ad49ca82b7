"""Chain verification in several processes names the same broken event as one process (issue #10).

The trail is split into contiguous id ranges, each verified on its own and stitched in order
(app.audit.parallel). Each tampering below sits where that could go wrong (inside a range, on
the first or last event of a range, a gap or a forged link at a boundary) and must give exactly
verify_chain's report: the same event, problem, count and head. Three ways are compared on the
suite's engine: verify_chain, the ranges verified one after another in this process and
stitched, and verify_chain_parallel with two worker processes. The trail is committed, in a
database of its own: the worker processes must see it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.audit import capture as audit
from app.audit import parallel
from app.audit.capture import Actor
from app.audit.chain import GENESIS_HASH, ChainReport, event_hash, verify_chain
from app.audit.models import AuditEvent
from app.audit.parallel import split, stitch, verify_chain_parallel, verify_range
from app.common.db import unit_of_work
from app.extensions import db as _db
from tests.hardening.conftest import PostgresDatabases, Site, migrated_app

pytestmark = pytest.mark.req("URS-AUD-006")

EVENTS = 40
RANGES = 4  # of 10 events each: 1-10, 11-20, 21-30, 31-40
JOBS = 2


def _append(site: Site, count: int, first: int = 0) -> None:
    with site.app.app_context(), unit_of_work(_db.session) as session:
        for n in range(first, first + count):
            audit.record(session, "test.event", Actor.system("tests"), entity_ref=("Thing", str(n)), n=n)


@contextmanager
def _own_database(database_url: str, tmp_path: Path, label: str) -> Iterator[str]:
    """The URL of a new, empty database on the suite's engine (dropped afterwards)."""
    if not database_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / label}.sqlite3"
        return
    databases = PostgresDatabases(database_url)
    try:
        yield databases.url(databases.create(label))
    finally:
        databases.drop_all()


@pytest.fixture
def site(database_url: str, tmp_path: Path) -> Iterator[Site]:
    """A committed trail of EVENTS events, on the suite's engine, in a database of its own."""
    with _own_database(database_url, tmp_path, "verify") as url:
        built = Site(url, migrated_app(url))
        try:
            _append(built, EVENTS)
            assert built.scalar("SELECT max(id) FROM audit_events") == EVENTS
            yield built
        finally:
            built.close()


def _reports(site: Site, jobs: int = JOBS) -> tuple[ChainReport, ChainReport, ChainReport]:
    """verify_chain, the ranges stitched in this process, and verify_chain_parallel."""
    with site.app.app_context(), _db.engine.connect() as connection:
        serial = verify_chain(connection)
        last = connection.execute(select(func.max(AuditEvent.id))).scalar() or 0
        stitched = stitch(verify_range(connection, lo, hi) for lo, hi in split(last, RANGES))
    with site.app.app_context(), _db.engine.connect() as connection:
        processes = verify_chain_parallel(connection, jobs, RANGES, min_events=0)
    return serial, stitched, processes


def _edit(event_id: int) -> Callable[[Site], None]:
    return lambda site: site.run("UPDATE audit_events SET reason = 'edited' WHERE id = :i", i=event_id)


def _delete(*event_ids: int) -> Callable[[Site], None]:
    def tamper(site: Site) -> None:
        for event_id in event_ids:
            site.run("DELETE FROM audit_events WHERE id = :i", i=event_id)

    return tamper


def _relink(event_id: int) -> Callable[[Site], None]:
    return lambda site: site.run("UPDATE audit_events SET prev_hash = :h WHERE id = :i", h="1" * 64, i=event_id)


def _forge(event_id: int) -> Callable[[Site], None]:
    """Edit an event and store the hash recomputed over the edit: it verifies, the next link does not."""

    def tamper(site: Site) -> None:
        with site.app.app_context(), _db.engine.connect() as connection:
            row = connection.execute(select(AuditEvent.__table__).where(AuditEvent.id == event_id)).one()._asdict()
        row["reason"] = "forged"
        site.run("UPDATE audit_events SET reason = 'forged', hash = :h WHERE id = :i",
                 h=event_hash(row["prev_hash"], row), i=event_id)  # fmt: skip

    return tamper


CONTENT, LINK = "content does not match its hash", "link to previous event broken"
TAMPERINGS = {
    # name: (tampering, broken event, problem); ranges are 1-10, 11-20, 21-30, 31-40
    "edit inside a range": (_edit(15), 15, CONTENT),
    "edit of the first event of a range": (_edit(11), 11, CONTENT),
    "edit of the last event of a range": (_edit(10), 10, CONTENT),
    "edit of the first event of the trail": (_edit(1), 1, CONTENT),
    "edit of the newest event": (_edit(40), 40, CONTENT),
    "gap: first event of a range deleted": (_delete(21), 21, "event 21 is missing"),
    "gap: last event of a range deleted": (_delete(20), 20, "event 20 is missing"),
    "gap: a whole range deleted": (_delete(*range(11, 21)), 11, "event 11 is missing"),
    "gap across a boundary": (_delete(30, 31), 30, "event 30 is missing"),
    "gap: first event of the trail deleted": (_delete(1), 1, "event 1 is missing"),
    "link of the first event of a range changed": (_relink(31), 31, LINK),
    "link of the first event of the trail changed": (_relink(1), 1, LINK),
    "hash recomputed on the last event of a range": (_forge(10), 11, LINK),
    "hash recomputed inside a range": (_forge(24), 25, LINK),
    "two edits: the earlier one is named": (lambda s: (_edit(35)(s), _edit(12)(s)), 12, CONTENT),
}


@pytest.mark.parametrize("name", list(TAMPERINGS))
def test_each_tampering_gets_the_one_process_report(site, name):
    tamper, broken_id, problem = TAMPERINGS[name]
    site.drop_triggers("audit_events")
    tamper(site)
    serial, stitched, processes = _reports(site)
    assert (serial.broken_id, serial.problem, serial.count) == (broken_id, problem, broken_id - 1)
    assert stitched == serial
    assert processes == serial


@pytest.mark.req("URS-AUD-005")
def test_an_intact_trail_verifies_whole_in_processes(site):
    serial, stitched, processes = _reports(site)
    assert serial.ok and serial.count == EVENTS
    assert stitched == processes == serial


@pytest.mark.req("URS-AUD-005")
def test_a_deleted_newest_event_leaves_a_shorter_intact_chain(site):
    """As with one process: the replay of the records, not the chain, finds a cut tail."""
    site.drop_triggers("audit_events")
    _delete(EVENTS)(site)
    serial, stitched, processes = _reports(site)
    assert (serial.ok, serial.count) == (True, EVENTS - 1)
    assert stitched == processes == serial


def test_an_event_before_the_first_is_named_as_one_process_names_it(site):
    site.drop_triggers("audit_events")
    site.run("INSERT INTO audit_events (id, occurred_at, actor_name, action, changes, details, prev_hash, hash) "
             "SELECT 0, occurred_at, actor_name, action, changes, details, prev_hash, :h FROM audit_events "
             "WHERE id = 1", h="2" * 64)  # fmt: skip
    serial, _stitched, processes = _reports(site)
    assert (serial.broken_id, serial.problem, serial.count, serial.head_hash) == (1, "event 1 is missing", 0,
                                                                                  GENESIS_HASH)  # fmt: skip
    assert processes == serial


def test_an_empty_trail_verifies_in_processes(tmp_path, database_url):
    with _own_database(database_url, tmp_path, "empty") as url:
        site = Site(url, migrated_app(url))
        try:
            assert _reports(site)[2] == ChainReport(0, GENESIS_HASH)
        finally:
            site.close()


def test_ranges_cover_every_id_once():
    assert split(40, 4) == [(1, 10), (11, 20), (21, 30), (31, 40)]
    assert split(3, 8) == [(1, 1), (2, 2), (3, 3)]
    for last, parts in ((10, 3), (1_000_003, 16), (7, 7)):
        ranges = split(last, parts)
        assert [i for lo, hi in ranges for i in range(lo, hi + 1)] == list(range(1, last + 1))


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_flask_audit_verify_names_the_same_event_whatever_the_jobs(site, monkeypatch, jobs):
    monkeypatch.setattr(parallel, "MIN_PARALLEL_EVENTS", 0)
    monkeypatch.setattr(parallel, "RANGES_PER_JOB", RANGES // JOBS)
    site.drop_triggers("audit_events")
    _forge(20)(site)
    result = site.flask("audit", "verify", "--jobs", jobs)
    assert result.exit_code == 1, result.output
    assert "BROKEN at audit event 21: link to previous event broken (20 events verified before it)" in result.output


@pytest.mark.postgres
def test_every_process_reads_the_state_the_verification_started_from(site):
    """The coordinator's snapshot is exported to every process: what commits meanwhile is not seen."""
    site.drop_triggers("audit_events")  # DDL first: it would wait for the open transaction below
    with site.app.app_context(), _db.engine.connect() as connection:
        connection.execution_options(isolation_level="REPEATABLE READ")
        before = verify_chain(connection)  # takes the transaction's snapshot
        _append(site, 5, first=EVENTS)
        _edit(15)(site)
        _relink(31)(site)
        during = verify_chain_parallel(connection, JOBS, RANGES, min_events=0)
    after = _reports(site)
    assert before.ok and before.count == EVENTS
    assert during == before
    assert after[0] == after[2] and (after[0].broken_id, after[0].problem) == (15, CONTENT)


@pytest.mark.req("URS-AUD-007")
def test_flask_audit_verify_names_the_same_records_whatever_the_jobs(database_url, tmp_path, monkeypatch):
    """The replay of the records, cut into id ranges for the processes, names what one process names,
    in the same order."""
    from app import cli
    from tests.hardening.conftest import released_lot_site

    monkeypatch.setattr(parallel, "MIN_PARALLEL_EVENTS", 0)
    monkeypatch.setattr(cli, "REPLAY_ROWS_PER_TASK", 7)  # several ranges of the lot's entries
    with _own_database(database_url, tmp_path, "records") as url:
        site, released = released_lot_site(url)
        try:
            clean = {jobs: site.flask("audit", "verify", "--jobs", jobs) for jobs in ("1", "2")}
            assert [r.exit_code for r in clean.values()] == [0, 0], clean["2"].output
            assert clean["1"].output == clean["2"].output
            entries = site.dump()["entries"]
            coa = released.documents[next(k for k in released.documents if k.value == "coa")].id
            for table in ("entries", "signatures", "documents"):
                site.drop_triggers(table)
            for entry in (entries[2], entries[len(entries) // 2], entries[-1]):
                site.run("UPDATE entries SET value_text = 'edited' WHERE id = :i", i=entry[0])
            site.run("UPDATE signatures SET signer_name = 'Somebody Else' WHERE id = (SELECT max(id) FROM signatures)")
            site.run("UPDATE documents SET content = :c WHERE id = :i", c=b"%PDF forged", i=coa)
            tampered = {jobs: site.flask("audit", "verify", "--jobs", jobs) for jobs in ("1", "2")}
            assert [r.exit_code for r in tampered.values()] == [1, 1]
            assert tampered["1"].output == tampered["2"].output
            assert tampered["2"].output.count("CHANGED OUTSIDE THE APPLICATION") >= 5, tampered["2"].output
            for entry in (entries[2], entries[-1]):
                assert f"Entry {entry[0]}: value_text is 'edited'" in tampered["2"].output
        finally:
            site.close()
