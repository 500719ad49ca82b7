"""Scenario 4 (append, and verify on SQLite): audit events appended per second on both engines.

Appends go through app.audit.chain.append_events exactly as the capture listener calls it
(chain lock, head read, hash, INSERT), one transaction each:
  - single: one event per transaction (a request that records one explicit event);
  - batch: 100 events per transaction (a save with many entries);
  - concurrent: 4 threads appending single events at once (the lock serializes them; the chain
    must come out unforked, which is checked).
On SQLite the verify throughput is also measured here (PostgreSQL's is measured on the scale
database): verify_chain (one process) and verify_chain_parallel (one process per CPU, as `flask
audit verify` runs it) against a bare sqlite3 cursor doing the same canonical JSON + SHA-256.

Run: python -m benchmarks.audit_append --out FILE [--size small|full]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from benchmarks.common import ROOT, database, latency_stats, log, make_app, ratio, write_json

SECONDS = {"full": 8.0, "small": 3.0}
SQLITE_VERIFY_EVENTS = {"full": 500_000, "small": 50_000}
THREADS = 4


def _row(i: int) -> dict[str, Any]:
    from app.common.canonical import canonical_json
    from app.common.timeutil import utcnow

    changes = {
        "entered_at": [None, "2026-11-25T12:00:00.000000Z"],
        "entered_by_id": [None, 3],
        "id": [None, i],
        "input_name": [None, "viable_cells"],
        "limit_status": [None, "within"],
        "lot_id": [None, 1],
        "step_record_id": [None, 7],
        "unit": [None, "10^6 cells"],
        "value_decimal": [None, "150.0"],
        "value_text": [None, "150.0"],
    }
    return {
        "occurred_at": utcnow(),
        "actor_id": 3,
        "actor_name": "Bench Operator (op.bench)",
        "action": "step.entries_recorded",
        "entity_type": "Entry",
        "entity_id": str(i),
        "lot_id": 1,
        "changes": canonical_json(changes),
        "reason": None,
        "details": canonical_json({"change": "created", "step": "UP2.OP1.S1"}),
    }


def _engine(url: str) -> sa.Engine:
    from app.common.db import configure_engine

    engine = sa.create_engine(url, pool_size=THREADS + 1) if url.startswith("postgresql") else sa.create_engine(url)
    configure_engine(engine)
    return engine


def _append_for(engine: sa.Engine, seconds: float, per_tx: int, counter: list[int], latencies: list[float]) -> None:
    from app.audit.chain import append_events

    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline and n < 500_000:
        start = time.perf_counter()
        with engine.begin() as connection:
            append_events(connection, [_row(n + k) for k in range(per_tx)])
        latencies.append(time.perf_counter() - start)
        n += per_tx
    counter.append(n)


def measure_appends(url: str, seconds: float) -> dict[str, Any]:
    engine = _engine(url)
    out = {}
    for name, per_tx, threads in (
        ("single", 1, 1),
        ("batch_100", 100, 1),
        (f"concurrent_{THREADS}_threads", 1, THREADS),
    ):
        counter: list[int] = []
        latencies: list[float] = []
        start = time.perf_counter()
        workers = [
            threading.Thread(target=_append_for, args=(engine, seconds, per_tx, counter, latencies))
            for _ in range(threads)
        ]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        wall = time.perf_counter() - start
        out[name] = {
            "events": sum(counter),
            "events_per_s": round(sum(counter) / wall),
            "transaction": latency_stats(latencies),
        }
    from app.audit.chain import verify_chain

    with engine.connect() as connection:
        report = verify_chain(connection)
    out["chain_after_concurrent_appends"] = {"ok": report.ok, "events": report.count}
    engine.dispose()
    return out


def fill_sqlite(url: str, events: int) -> float:
    """Append `events` chained events in 1,000-event transactions; seconds taken."""
    from app.audit.chain import append_events

    engine = _engine(url)
    start = time.perf_counter()
    done = 0
    while done < events:
        with engine.begin() as connection:
            append_events(connection, [_row(done + k) for k in range(min(1000, events - done))])
        done += 1000
    engine.dispose()
    return time.perf_counter() - start


def sqlite_floor(path: str) -> dict[str, Any]:
    """Bare sqlite3: the same canonical JSON and SHA-256 chain, no ORM, no Core."""
    import hashlib
    import sqlite3
    from datetime import datetime

    from app.audit.chain import HASHED_FIELDS as names  # the exact fields the chain hashes
    from app.common.timeutil import format_utc
    from benchmarks.verify_probe import peak_mib

    dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
    start = time.perf_counter()
    prev, count, ok = "0" * 64, 0, True
    connection = sqlite3.connect(path)
    cursor = connection.execute(
        "SELECT id, occurred_at, actor_id, actor_name, action, entity_type, entity_id, "
        "lot_id, changes, reason, details, prev_hash, hash FROM audit_events ORDER BY id"
    )
    for row in cursor:
        payload = dict(zip(names, row[:11], strict=True))
        payload["occurred_at"] = format_utc(datetime.fromisoformat(row[1]).replace(tzinfo=UTC))
        digest = hashlib.sha256((prev + dumps(payload)).encode()).hexdigest()
        if row[11] != prev or digest != row[12]:
            ok = False
            break
        prev, count = digest, count + 1
    connection.close()
    seconds = time.perf_counter() - start
    return {
        "events": count,
        "seconds": round(seconds, 2),
        "ok": ok,
        "events_per_s": round(count / seconds),
        "peak_rss_mib": peak_mib(),
    }


def _probe(module: str, *args: str) -> dict[str, Any]:
    """Run a verify probe in a process of its own (its peak RSS is the verification's); its JSON line."""
    done = subprocess.run(  # noqa: S603 - fixed arguments, bench only
        [sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else {"error": done.stderr[-1500:]}


def run(size: str) -> dict[str, Any]:
    seconds = SECONDS[size]
    result: dict[str, Any] = {"seconds_per_mode": seconds}
    with database("cellbatch_bench_audit") as url:
        make_app(url)
        log("audit appends: PostgreSQL")
        result["postgresql"] = measure_appends(url, seconds)
    with tempfile.TemporaryDirectory(prefix="cellbatch-bench-") as tmp:
        path = f"{tmp}/audit.sqlite3"
        url = f"sqlite:///{path}"
        make_app(url)
        log("audit appends: SQLite")
        result["sqlite"] = measure_appends(url, seconds)
        verify_path = f"{tmp}/verify.sqlite3"
        make_app(f"sqlite:///{verify_path}")
        events = SQLITE_VERIFY_EVENTS[size]
        log(f"audit verify on SQLite: filling {events} events")
        fill_s = fill_sqlite(f"sqlite:///{verify_path}", events)
        chain = _probe("benchmarks.verify_probe", "chain", f"sqlite:///{verify_path}")
        parallel = _probe("benchmarks.verify_probe", "parallel", f"sqlite:///{verify_path}")
        floor = _probe("benchmarks.audit_append", "--sqlite-floor", verify_path)
        result["sqlite_verify"] = {
            "fill_seconds": round(fill_s, 1),
            "chain": chain,
            "floor": floor,
            "chain_vs_floor": ratio(chain.get("events_per_s"), floor.get("events_per_s")),
            "parallel": parallel,
            "parallel_vs_floor": ratio(parallel.get("events_per_s"), floor.get("events_per_s")),
            "parallel_vs_chain": ratio(parallel.get("events_per_s"), chain.get("events_per_s")),
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out")
    parser.add_argument("--size", default="full", choices=("full", "small"))
    parser.add_argument("--sqlite-floor", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sqlite_floor:
        print(json.dumps(sqlite_floor(args.sqlite_floor)))
        return
    write_json(Path(args.out), run(args.size))


if __name__ == "__main__":
    main()
