"""Shared helpers: bench databases, the bench app, timing statistics, the machine's state.

Every database made here is named cellbatch_bench_* and dropped by the scenario that made it;
nothing else on the server is touched.
"""

from __future__ import annotations

import argparse
import ctypes.util
import gc
import json
import os
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
VENV_BIN = Path(sys.executable).parent
#: The server the benchmarks create their databases on (trust auth, local only).
PG_SERVER = os.environ.get("BENCH_PG_SERVER", "postgresql+psycopg://postgres@127.0.0.1:5432")
DB_PREFIX = "cellbatch_bench_"
#: The password of every seeded bench account (bench databases only).
PASSWORD = "bench-password-2026"  # noqa: S105 - throwaway bench accounts
SIZES = {"small": "small", "full": "full"}


def pg_url(name: str) -> str:
    return f"{PG_SERVER}/{name}"


def _checked(name: str) -> str:
    if not re.fullmatch(DB_PREFIX + r"[a-z0-9_]+", name):
        raise ValueError(f"bench databases are named {DB_PREFIX}*: {name!r}")
    return name


def _admin() -> sa.Engine:
    return sa.create_engine(pg_url("postgres"), isolation_level="AUTOCOMMIT")


def create_database(name: str) -> str:
    """A new, empty PostgreSQL database (an old one of the same name is dropped first)."""
    engine = _admin()
    with engine.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{_checked(name)}" WITH (FORCE)')
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    return pg_url(name)


def drop_database(name: str) -> None:
    engine = _admin()
    with engine.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{_checked(name)}" WITH (FORCE)')
    engine.dispose()


@contextmanager
def database(name: str, keep: bool = False) -> Iterator[str]:
    url = create_database(name)
    try:
        yield url
    finally:
        if not keep:
            drop_database(name)


def bench_config(url: str, *, cheap_hashing: bool = False, csrf: bool = True) -> type:
    """Development settings on a bench database; login rate limit off (one client IP for all)."""
    from config import DevelopmentConfig

    attrs: dict[str, Any] = {
        "SQLALCHEMY_DATABASE_URI": url,
        "SECRET_KEY": "bench-secret-key-" + "x" * 32,
        "RATELIMIT_ENABLED": False,
        "WTF_CSRF_ENABLED": csrf,
        "ENV_NAME": "development",
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "pool_size": 5},
    }
    if url.startswith("sqlite"):
        attrs["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True}
    if cheap_hashing:
        attrs.update(ARGON2_TIME_COST=1, ARGON2_MEMORY_COST=1024)
    return type("BenchConfig", (DevelopmentConfig,), attrs)


def make_app(url: str, *, migrate: bool = True, **kw: Any):  # type: ignore[no-untyped-def]
    """The real app on a bench database, migrated to head with the real Alembic scripts."""
    from flask_migrate import upgrade

    from app import create_app

    app = create_app(bench_config(url, **kw))
    if migrate:
        with app.app_context():
            upgrade()
    # As a site's server starts (app/wsgi.py): what start-up built is left out of garbage
    # collection, or a page measured here pays full collections no worker pays. Garbage first
    # (an earlier app of this process, say): frozen, it would never be freed.
    gc.collect()
    gc.freeze()
    return app


def percentile(values: list[float], p: float) -> float | None:
    """Linear-interpolated percentile (p in 0..100) of unsorted values."""
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    low, high = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def latency_stats(seconds: list[float]) -> dict[str, Any]:
    """n, p50, p95, p99, max and mean in milliseconds."""
    ms = [s * 1000 for s in seconds]
    if not ms:
        return {"n": 0}
    return {
        "n": len(ms),
        "p50_ms": _r(percentile(ms, 50)),
        "p95_ms": _r(percentile(ms, 95)),
        "p99_ms": _r(percentile(ms, 99)),
        "max_ms": _r(max(ms)),
        "mean_ms": _r(statistics.fmean(ms)),
    }


def _r(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def timed(fn: Callable[[], Any], repeat: int, warmup: int = 1) -> tuple[list[float], Any]:
    """Wall times (s) of `repeat` calls after `warmup` untimed ones; the last result."""
    result = None
    for _ in range(warmup):
        result = fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return times, result


def ratio(value: float | None, floor: float | None, digits: int = 2) -> float | None:
    if not value or not floor:
        return None
    return round(value / floor, digits)


def cpu_calibration_ms() -> float:
    """Wall time of a fixed pure-Python workload (200,000 SHA-256 digests of small JSON texts): the
    lower, the more of a core the benchmarks got; compare it between runs before comparing times."""
    import hashlib

    start = time.perf_counter()
    for i in range(200_000):
        hashlib.sha256(json.dumps({"i": i, "a": "x"}, sort_keys=True).encode()).hexdigest()
    return round((time.perf_counter() - start) * 1000, 1)


def machine() -> dict[str, Any]:
    """What the numbers were measured on, including how busy the machine was."""
    from importlib.metadata import version

    with open("/proc/meminfo") as f:
        mem = {line.split(":")[0]: line.split()[1] for line in f}
    info = {
        "cpus": os.cpu_count(),
        "load_avg": [round(x, 2) for x in os.getloadavg()],
        "mem_total_gib": round(int(mem["MemTotal"]) / 2**20, 1),
        "mem_available_gib": round(int(mem["MemAvailable"]) / 2**20, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "libharfbuzz_subset": ctypes.util.find_library("harfbuzz-subset"),
        "cpu_calibration_ms": cpu_calibration_ms(),
        "versions": {
            p: version(p) for p in ("flask", "sqlalchemy", "psycopg", "weasyprint", "gunicorn", "argon2-cffi")
        },
    }
    try:
        engine = _admin()
        with engine.connect() as connection:
            info["postgresql"] = connection.exec_driver_sql("SHOW server_version").scalar()
            info["pg_shared_buffers"] = connection.exec_driver_sql("SHOW shared_buffers").scalar()
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - reported, not fatal
        info["postgresql"] = f"unreachable: {exc}"
    return info


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def scenario_main(run: Callable[[str], dict[str, Any]]) -> None:
    """The command line of a scenario with no options of its own: --out FILE [--size full|small]."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--size", default="full", choices=("full", "small"))
    args = parser.parse_args()
    write_json(Path(args.out), run(args.size))


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
