"""`flask audit verify` in several processes: the chain in contiguous id ranges, stitched in order;
then the records' checks (the replay of each table in id ranges, signatures, documents).

An event's hash covers only its own fields and its stored link (prev_hash), so a range of events
is checked without reading the ones before it: its first link is taken as stored, every later
link and every hash is recomputed (app.audit.chain.verify_rows, the code that verifies the whole
chain in one process). Stitching checks what no range can check alone: each range's first link
must equal the hash its previous range ended on, which that range recomputed; and each range
must hold every id up to its last (the last range ends on the newest event). The first range
that is not intact, in order, gives the report: the same event, problem, count and head as
verify_chain, which stays the one-process path (jobs = 1, short chains, SQLite).

Every process reads one state of the database, so an append or an edit committed meanwhile is
seen by none of them, as one statement of verify_chain would not see it: on PostgreSQL the
coordinator exports its snapshot (pg_export_snapshot) and each task imports it; on SQLite the
coordinator's transaction holds the write lock (the app's engine begins with BEGIN IMMEDIATE),
so nothing commits until it ends, while the workers read beside it (readers never wait for
it). Memory stays bounded: every task streams its rows, and only reports and mismatches come back.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from importlib import import_module
from itertools import chain
from multiprocessing import get_context
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, func, select
from sqlalchemy.pool import NullPool

from app.audit.chain import GENESIS_HASH, ChainReport, iter_events, verify_chain, verify_rows
from app.audit.models import AuditEvent

#: Below this many events one process is about as fast: each worker first imports the app (about
#: as long as verifying 50,000 events), and the chain alone breaks even near 150,000 (benchmarks/README.md).
MIN_PARALLEL_EVENTS = 100_000
#: Ranges per process: smaller ranges even out when the processes finish.
RANGES_PER_JOB = 8
#: Engines verified in several processes (both measured faster so: benchmarks/README.md).
PARALLEL_DIALECTS = ("postgresql", "sqlite")
_table = AuditEvent.__table__
_SNAPSHOT_ID = re.compile(r"[0-9A-Fa-f]+(-[0-9A-Fa-f]+)+")
#: The engine of a worker process, made once by _start_worker (a connection per task).
_worker_engine: Engine | None = None
#: A piece of work for a worker: function(connection, *args).
Task = tuple[Callable[..., Any], tuple[Any, ...]]


def default_jobs() -> int:
    """The CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def split(last_id: int, parts: int) -> list[tuple[int, int]]:
    """Ids 1..last_id as at most `parts` contiguous ranges (first, last) of nearly equal length."""
    parts = max(1, min(parts, last_id))
    bounds = [1 + last_id * i // parts for i in range(parts + 1)]
    return [(bounds[i], bounds[i + 1] - 1) for i in range(parts)]


@dataclass(frozen=True)
class RangeResult:
    """One range verified on its own."""

    first_id: int
    #: The stored prev_hash of event first_id; None if that event is missing.
    first_link: str | None
    #: Counted from first_id; its head is the recomputed hash of the last event verified.
    report: ChainReport


def verify_range(connection: Connection, first_id: int, last_id: int) -> RangeResult:
    """Verify events first_id..last_id, taking the first one's link as stored."""
    with closing(iter_events(connection, first_id=first_id, last_id=last_id)) as rows:
        first = next(rows, None)
        link = first.prev_hash if first is not None and first.id == first_id else None
        ahead = [] if first is None else [first]
        # Without the first event verify_rows reports it missing before it uses the link.
        report = verify_rows(chain(ahead, rows), first_id, link or GENESIS_HASH, last_id)
    return RangeResult(first_id, link, report)


def stitch(results: Iterable[RangeResult]) -> ChainReport:
    """Join ranges given in id order into the report verify_chain gives for the whole chain."""
    count, head = 0, GENESIS_HASH
    for part in results:
        report = part.report
        # verify_rows checks an event's id, then its link, then its hash: so does this.
        if part.first_link is not None and part.first_link != head:
            return ChainReport(count, head, part.first_id, "link to previous event broken")
        if not report.ok:
            return ChainReport(count + report.count, report.head_hash if report.count else head,
                               report.broken_id, report.problem)  # fmt: skip
        count, head = count + report.count, report.head_hash
    return ChainReport(count, head)


def _bounds(connection: Connection) -> tuple[str | None, int | None, int | None]:
    """The snapshot to share (PostgreSQL), the lowest and highest event id, all in one statement."""
    ids = (func.min(_table.c.id), func.max(_table.c.id))
    if connection.dialect.name != "postgresql":
        return None, *connection.execute(select(*ids)).one()
    return tuple(connection.execute(select(func.pg_export_snapshot(), *ids)).one())  # type: ignore[return-value]


def _shared(connection: Connection) -> bool:
    """Whether other processes can open this database (an in-memory SQLite one they cannot)."""
    return connection.dialect.name != "sqlite" or connection.engine.url.database not in (None, "", ":memory:")


def _start_worker(url: str, modules: tuple[str, ...]) -> None:
    global _worker_engine
    for name in modules:
        import_module(name)
    _worker_engine = create_engine(url, poolclass=NullPool)


def _run_task(task: tuple[str | None, Callable[..., Any], tuple[Any, ...]]) -> Any:
    """Call function(connection, *args) on a connection of this worker reading the shared snapshot."""
    snapshot, function, args = task
    assert _worker_engine is not None, "made by the pool initializer"
    with _worker_engine.connect() as connection:
        if snapshot is not None:
            if not _SNAPSHOT_ID.fullmatch(snapshot):
                raise ValueError(f"not a snapshot id: {snapshot!r}")
            connection.execution_options(isolation_level="REPEATABLE READ")
            connection.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
        return function(connection, *args)


class TrailVerifier:
    """`flask audit verify`'s work in `jobs` processes: the chain, then checks of the records.

    Use as a context manager, on a connection that stays open (and in its transaction) until
    the end: the processes read the state it holds. One process (the functions themselves, on
    this connection) for jobs = 1, an engine not in PARALLEL_DIALECTS, an in-memory database,
    fewer than min_events events (default MIN_PARALLEL_EVENTS), an empty trail or one whose first
    event is not 1.
    """

    def __init__(self, connection: Connection, jobs: int, ranges: int | None = None,
                 min_events: int | None = None, modules: tuple[str, ...] = ()) -> None:  # fmt: skip
        self.connection, self.jobs, self.modules = connection, jobs, modules
        self.snapshot: str | None = None
        self.chain_ranges: list[tuple[int, int]] = []
        self._pool: ProcessPoolExecutor | None = None
        if jobs > 1 and connection.dialect.name in PARALLEL_DIALECTS and _shared(connection):
            self.snapshot, first_id, last_id = _bounds(connection)
            least = MIN_PARALLEL_EVENTS if min_events is None else min_events
            if first_id == 1 and last_id is not None and last_id >= least:
                self.chain_ranges = split(last_id, ranges or jobs * RANGES_PER_JOB)

    @property
    def parallel(self) -> bool:
        return bool(self.chain_ranges)

    def __enter__(self) -> TrailVerifier:
        if self.parallel:
            url = self.connection.engine.url.render_as_string(hide_password=False)
            # spawn: fresh interpreters, not forks of one holding the app's connections and threads.
            self._pool = ProcessPoolExecutor(self.jobs, get_context("spawn"), _start_worker, (url, self.modules))
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)  # a break found early: later ranges are not read

    def _map(self, tasks: list[Task], start_first: tuple[Callable[..., Any], ...] = ()) -> Iterator[Any]:
        """Each function(connection, *args) in a worker; results in the order of `tasks`, though the
        tasks of the functions in start_first (long, indivisible ones) are started before the others."""
        assert self._pool is not None, "use TrailVerifier as a context manager"
        order = sorted(range(len(tasks)), key=lambda i: tasks[i][0] not in start_first)
        futures = {i: self._pool.submit(_run_task, (self.snapshot, *tasks[i])) for i in order}
        return (futures[i].result() for i in range(len(tasks)))

    def chain(self) -> ChainReport:
        """verify_chain's report for the trail as the snapshot holds it."""
        if not self.parallel:
            return verify_chain(self.connection)
        return stitch(self._map([(verify_range, bounds) for bounds in self.chain_ranges]))

    def records(self, tasks: Callable[[Connection, bool], list[Task]],
                start_first: tuple[Callable[..., Any], ...] = ()) -> list[Any]:  # fmt: skip
        """The joined results of the checks that tasks(connection, parallel) lists, each called as
        function(connection, *args): in the workers when parallel, else here one after another."""
        todo = tasks(self.connection, self.parallel)
        if not self.parallel:
            return [item for function, args in todo for item in function(self.connection, *args)]
        return [item for result in self._map(todo, start_first) for item in result]


def verify_chain_parallel(connection: Connection, jobs: int, ranges: int | None = None,
                          min_events: int | None = None) -> ChainReport:  # fmt: skip
    """verify_chain(connection)'s report, computed by `jobs` processes (see TrailVerifier)."""
    with TrailVerifier(connection, jobs, ranges, min_events) as verifier:
        return verifier.chain()
