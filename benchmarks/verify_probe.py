"""Run in a subprocess of its own, so its peak memory (ru_maxrss) is the verification's alone.

    python -m benchmarks.verify_probe chain URL          # app.audit.chain.verify_chain: one process (--jobs 1)
    python -m benchmarks.verify_probe parallel URL [N]   # verify_chain_parallel, N processes (default: CPUs),
                                                         # as `flask audit verify` runs it
    python -m benchmarks.verify_probe floor URL          # bare psycopg named cursor + canonical JSON + SHA-256

Prints one JSON line: events, seconds, events/s, peak RSS (MiB; for parallel, of this process and
of the largest worker process), whether the chain held.
"""

from __future__ import annotations

import hashlib
import json
import resource
import sys
import time
from typing import Any


def peak_mib() -> float:
    """This process's peak RSS: VmHWM, not ru_maxrss, which Linux carries over from the parent
    across fork + exec (under `make bench` it reported the benchmark's own ~210 MiB)."""
    with open("/proc/self/status") as status:
        return round(next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024, 1)


def _cpu_s() -> float:
    """CPU seconds of this process and its (finished) children: the work, whatever else ran."""
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return round(sum(u.ru_utime + u.ru_stime for u in usage), 1)


def chain(url: str) -> dict[str, Any]:
    import sqlalchemy as sa

    from app.audit.chain import verify_chain

    engine = sa.create_engine(url)
    baseline = peak_mib()
    start = time.perf_counter()
    with engine.connect() as connection:
        report = verify_chain(connection)
    seconds = time.perf_counter() - start
    engine.dispose()
    return {
        "events": report.count,
        "seconds": round(seconds, 2),
        "ok": report.ok,
        "broken_id": report.broken_id,
        "baseline_rss_mib": baseline,
        "peak_rss_mib": peak_mib(),
        "cpu_s": _cpu_s(),
    }


def parallel(url: str, jobs: int | None = None) -> dict[str, Any]:
    """verify_chain_parallel as `flask audit verify --jobs N` calls it (one connection, kept open)."""
    import sqlalchemy as sa

    from app.audit import parallel as chain_parallel
    from app.common.db import configure_engine

    jobs = jobs or chain_parallel.default_jobs()
    engine = sa.create_engine(url)
    configure_engine(engine)  # as the app's: on SQLite the coordinator holds the write lock
    baseline = peak_mib()
    start = time.perf_counter()
    with engine.connect() as connection:
        report = chain_parallel.verify_chain_parallel(connection, jobs)
    seconds = time.perf_counter() - start
    engine.dispose()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "events": report.count,
        "seconds": round(seconds, 2),
        "ok": report.ok,
        "broken_id": report.broken_id,
        "jobs": jobs,
        # verify_chain_parallel keeps one process below MIN_PARALLEL_EVENTS
        "processes_used": jobs > 1
        and engine.dialect.name in chain_parallel.PARALLEL_DIALECTS
        and report.count >= chain_parallel.MIN_PARALLEL_EVENTS,
        "ranges_per_job": chain_parallel.RANGES_PER_JOB,
        "min_parallel_events": chain_parallel.MIN_PARALLEL_EVENTS,
        "baseline_rss_mib": baseline,
        "peak_rss_mib": peak_mib(),
        "worker_peak_rss_mib": round(children.ru_maxrss / 1024, 1),
        "cpu_s": _cpu_s(),
    }


def floor(url: str) -> dict[str, Any]:
    """The least a verifier can do: stream rows, rebuild the canonical JSON, chain SHA-256."""
    import psycopg

    from app.common.timeutil import format_utc

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    baseline = peak_mib()
    start = time.perf_counter()
    prev, count, ok = "0" * 64, 0, True
    from app.audit.chain import HASHED_FIELDS as names  # the exact fields the chain hashes

    dumps, sha256 = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode, hashlib.sha256
    with psycopg.connect(dsn) as connection, connection.cursor(name="verify_floor") as cursor:
        cursor.itersize = 5000
        cursor.execute(
            "SELECT id, occurred_at, actor_id, actor_name, action, entity_type, entity_id, lot_id, "
            "changes, reason, details, prev_hash, hash FROM audit_events ORDER BY id"
        )
        for row in cursor:
            payload = dict(zip(names, row[:11], strict=True))
            payload["occurred_at"] = format_utc(row[1])
            digest = sha256((prev + dumps(payload)).encode()).hexdigest()
            if row[11] != prev or digest != row[12]:
                ok = False
                break
            prev = digest
            count += 1
    seconds = time.perf_counter() - start
    return {
        "events": count,
        "seconds": round(seconds, 2),
        "ok": ok,
        "baseline_rss_mib": baseline,
        "peak_rss_mib": peak_mib(),
        "cpu_s": _cpu_s(),
    }


def main() -> None:
    mode, url, *rest = sys.argv[1:]
    if mode == "parallel":
        result = parallel(url, int(rest[0]) if rest else None)
    else:
        result = {"chain": chain, "floor": floor}[mode](url)
    result["events_per_s"] = round(result["events"] / result["seconds"]) if result["seconds"] else None
    print(json.dumps(result))


if __name__ == "__main__":
    main()
