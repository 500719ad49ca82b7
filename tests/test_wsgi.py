"""The servers' entry point (app/wsgi.py, README: Production) started as gunicorn starts it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from config import BASE_DIR

POSTGRES = "postgresql+psycopg://cellbatch@db.example/cellbatch"


def _start_server_app(tmp_path, **environment: str):  # type: ignore[no-untyped-def]
    """Import app.wsgi in a fresh interpreter with only these settings; its last line of output
    is the login page's status and how many objects start-up left frozen."""
    probe = ("import gc, app.wsgi; "
             "print(app.wsgi.app.test_client().get('/login').status_code, gc.get_freeze_count())")  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("CELLBATCH_")}
    env.update(CELLBATCH_INSTANCE_PATH=str(tmp_path / "instance"), **environment)
    return subprocess.run([sys.executable, "-c", probe], cwd=BASE_DIR, env=env, capture_output=True, text=True,  # noqa: S603
                          timeout=120, check=False)  # fmt: skip


@pytest.mark.req("URS-SEC-004")
def test_the_server_entry_point_refuses_unsafe_production_settings_from_the_environment(tmp_path):
    started = _start_server_app(tmp_path, CELLBATCH_ENV="production", CELLBATCH_DATABASE_URL=POSTGRES)
    assert started.returncode != 0
    assert "CELLBATCH_SECRET_KEY must be set" in started.stderr


def test_the_server_entry_point_serves_with_its_start_up_objects_frozen(tmp_path):
    started = _start_server_app(tmp_path, CELLBATCH_ENV="development",
                                CELLBATCH_DATABASE_URL=f"sqlite:///{tmp_path / 'site.sqlite3'}")  # fmt: skip
    assert started.returncode == 0, started.stderr
    status, frozen = started.stdout.strip().splitlines()[-1].split()
    assert status == "200"
    assert int(frozen) > 10_000  # out of every garbage collection (app/wsgi.py says why)
