"""Production refuses unsafe settings before it serves anything (EU GMP Annex 11 §12.1, §7.1)."""

from __future__ import annotations

import os
import subprocess
import sys

import click
import pytest

from app import create_app
from app.documents.cli import ensure_dev_key
from config import BASE_DIR, ProductionConfig

pytestmark = pytest.mark.req("URS-SEC-004")
POSTGRES = "postgresql+psycopg://cellbatch@db.example/cellbatch"


def production(**settings):  # type: ignore[no-untyped-def]
    return type("SiteProduction", (ProductionConfig,), settings)


@pytest.mark.parametrize("secret", [None, "", "x" * 31])
def test_a_missing_or_short_secret_key_is_refused(secret):
    with pytest.raises(RuntimeError, match="CELLBATCH_SECRET_KEY must be set"):
        create_app(production(SECRET_KEY=secret, SQLALCHEMY_DATABASE_URI=POSTGRES))


def test_the_embedded_sqlite_database_is_refused():
    with pytest.raises(RuntimeError, match="production needs PostgreSQL"):
        create_app(production(SECRET_KEY="x" * 32, SQLALCHEMY_DATABASE_URI="sqlite:///instance/cellbatch.sqlite3"))


def test_a_development_document_signing_key_is_refused_in_production(app, monkeypatch):
    with app.app_context():
        monkeypatch.setitem(app.config, "ENV_NAME", "production")
        with pytest.raises(click.ClickException, match="refused in production"):
            ensure_dev_key()


def _start_server_app(tmp_path, **environment: str):  # type: ignore[no-untyped-def]
    """Import the servers' entry point (app/wsgi.py) in a fresh interpreter with only these settings."""
    probe = ("import gc, app.wsgi; "
             "print(app.wsgi.app.test_client().get('/login').status_code, gc.get_freeze_count())")  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("CELLBATCH_")}
    env.update(CELLBATCH_INSTANCE_PATH=str(tmp_path / "instance"), **environment)
    return subprocess.run([sys.executable, "-c", probe], cwd=BASE_DIR, env=env, capture_output=True, text=True,  # noqa: S603
                          timeout=120, check=False)  # fmt: skip


def test_the_server_entry_point_refuses_unsafe_production_settings_from_the_environment(tmp_path):
    started = _start_server_app(tmp_path, CELLBATCH_ENV="production", CELLBATCH_DATABASE_URL=POSTGRES)
    assert started.returncode != 0
    assert "CELLBATCH_SECRET_KEY must be set" in started.stderr


def test_the_server_entry_point_serves_with_its_start_up_objects_frozen(tmp_path):
    started = _start_server_app(tmp_path, CELLBATCH_ENV="development",
                                CELLBATCH_DATABASE_URL=f"sqlite:///{tmp_path / 'site.sqlite3'}")  # fmt: skip
    assert started.returncode == 0, started.stderr
    status, frozen = started.stdout.split()
    assert status == "200"
    assert int(frozen) > 10_000  # out of every garbage collection (app/wsgi.py says why)
