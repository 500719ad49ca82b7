"""Production refuses unsafe settings before it serves anything (EU GMP Annex 11 §12.1, §7.1)."""

from __future__ import annotations

import click
import pytest

from app import create_app
from app.documents.cli import ensure_dev_key
from config import ProductionConfig

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
