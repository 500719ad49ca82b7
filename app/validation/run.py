"""`make validation`: the whole suite on SQLite and on PostgreSQL, each with a trace, then the report.

PostgreSQL: CELLBATCH_TEST_DATABASE_URL when set (its name must contain "test"; the suite empties
it); otherwise a temporary database is created through CELLBATCH_VALIDATION_PG_ADMIN_URL
(default postgresql+psycopg://postgres@127.0.0.1:5432/postgres) and dropped afterwards, as
.ci/run does. When neither is reachable the report lists "engine not run" as a deviation.
"""

from __future__ import annotations

import os
import subprocess  # noqa: S404 - runs this project's own pytest, no shell
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def run_suite(engine: str, out_dir: Path, database_url: str | None, extra: list[str]) -> Path:
    """One whole-suite run with traceability enforced; its output also goes to pytest-<engine>.log."""
    trace = out_dir / f"trace-{engine}.json"
    env = {**os.environ, "CELLBATCH_TRACE": "1"}
    env.pop("CELLBATCH_TEST_DATABASE_URL", None)
    if database_url:
        env["CELLBATCH_TEST_DATABASE_URL"] = database_url
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--trace-json={trace}", *extra]
    click.echo(f"== {engine}: {' '.join(command[1:])}")
    with (out_dir / f"pytest-{engine}.log").open("w", encoding="utf-8") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,  # noqa: S603
                                   text=True)  # fmt: skip
        assert process.stdout is not None
        for line in process.stdout:
            sys.stdout.write(line)
            log.write(line)
        process.wait()
    click.echo(f"== {engine}: pytest exit status {process.returncode}")
    return trace


@contextmanager
def temporary_postgres(admin_url: str) -> Iterator[str]:
    """A fresh database for one run, dropped afterwards (even when the run fails)."""
    import sqlalchemy as sa

    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"cellbatch_validation_test_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        try:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            admin.dispose()


def postgres_unavailable(admin_url: str) -> str | None:
    """Why PostgreSQL cannot be used here (None: it can)."""
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(admin_url, connect_args={"connect_timeout": 5})
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - reported in the report, not raised
        return f"PostgreSQL not reachable at {sa.engine.make_url(admin_url).render_as_string()}: {type(exc).__name__}"
    return None


def run_all(out_dir: Path, postgres: bool, extra: list[str]) -> tuple[list[Path], dict[str, str]]:
    """Both engines where available; returns the traces and the engines not run (with why)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in [*out_dir.glob("trace-*.json"), *out_dir.glob("report.*")]:
        old.unlink()
    traces = [run_suite("sqlite", out_dir, None, extra)]
    missing: dict[str, str] = {}
    if not postgres:
        missing["postgresql"] = "skipped on request (--no-postgres)"
        return traces, missing
    given = os.environ.get("CELLBATCH_TEST_DATABASE_URL", "")
    if given.startswith("postgresql"):
        traces.append(run_suite("postgresql", out_dir, given, extra))
        return traces, missing
    admin_url = os.environ.get("CELLBATCH_VALIDATION_PG_ADMIN_URL", DEFAULT_ADMIN_URL)
    if reason := postgres_unavailable(admin_url):
        missing["postgresql"] = reason
        return traces, missing
    with temporary_postgres(admin_url) as url:
        traces.append(run_suite("postgresql", out_dir, url, extra))
    return traces, missing
