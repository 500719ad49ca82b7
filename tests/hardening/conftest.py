"""Hardening fixtures: apps on databases of their own (a SQLite file, a fresh PostgreSQL database),
whose sessions really commit, plus a table dump that compares whole database states.

The suite's `db` fixture rolls everything back, so a second process (`flask audit verify`,
`pg_dump`, a gunicorn worker) would never see its rows; these tests need committed data.
"""

from __future__ import annotations

import hashlib
import itertools
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade

from app import create_app
from app.audit import capture as audit
from app.audit.capture import Actor
from app.auth import services as users
from app.auth.models import User
from app.auth.policy import AccountPolicy
from app.extensions import db as _db
from app.extensions import limiter
from config import TestConfig
from tests.conftest import PASSWORD, IsolatedClient


def build_app(url: str, **settings: Any) -> Flask:
    config = type("HardeningConfig", (TestConfig,), {"SQLALCHEMY_DATABASE_URI": url, **settings})
    application = create_app(config)
    application.test_client_class = IsolatedClient
    return application


def migrated_app(url: str, **settings: Any) -> Flask:
    application = build_app(url, **settings)
    with application.app_context():
        upgrade()
        _db.engine.dispose()
    return application


def dispose(application: Flask) -> None:
    with application.app_context():
        _db.session.remove()
        _db.engine.dispose()


@pytest.fixture
def sqlite_file_app(tmp_path: Path) -> Iterator[Flask]:
    """An app on its own, migrated SQLite file (committing for real)."""
    application = migrated_app(f"sqlite:///{tmp_path / 'hardening.sqlite3'}")
    application.sqlite_path = tmp_path / "hardening.sqlite3"
    yield application
    dispose(application)


class PostgresDatabases:
    """Create fresh PostgreSQL databases next to the test database; drop them all afterwards."""

    def __init__(self, database_url: str):
        self.base = sa.make_url(database_url)
        self.admin = sa.create_engine(self.base.set(database="postgres"), isolation_level="AUTOCOMMIT")
        self.names: list[str] = []

    def url(self, name: str) -> str:
        return self.base.set(database=name).render_as_string(hide_password=False)

    def create(self, label: str) -> str:
        name = f"{self.base.database}_{label}_{uuid.uuid4().hex[:8]}"
        with self.admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        self.names.append(name)
        return name

    def drop_all(self) -> None:
        with self.admin.connect() as connection:
            for name in self.names:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.admin.dispose()


@pytest.fixture
def pg_databases(database_url: str) -> Iterator[PostgresDatabases]:
    databases = PostgresDatabases(database_url)
    try:
        yield databases
    finally:
        databases.drop_all()


def ready_user(session, username: str, *roles: str, full_name: str | None = None) -> User:  # type: ignore[no-untyped-def]
    """An account that can work at once (password already changed), committed."""
    user = users.create_user(session, None, username, full_name or username.title(), list(roles), PASSWORD,
                             AccountPolicy())  # fmt: skip
    with audit.action(session, "test.user_ready", Actor.system("tests")):
        user.must_change_password = False
    session.commit()
    return user


_usernames = itertools.count(1)


def user_factory(session) -> Callable[..., User]:  # type: ignore[no-untyped-def]
    """The `make_user` fixture's signature, for sessions outside the rolled-back `db`."""
    counter = _usernames

    def factory(*roles: str, username: str | None = None, full_name: str | None = None) -> User:
        name = username or f"{(roles or ('user',))[0].replace('_', '')}{next(counter)}"
        return ready_user(session, name, *(roles or ("operator",)), full_name=full_name)

    return factory


def _plain(value: Any) -> Any:
    if isinstance(value, memoryview):
        value = bytes(value)
    return hashlib.sha256(value).hexdigest() if isinstance(value, bytes) else value


def reflect(connection: sa.Connection) -> sa.MetaData:
    metadata = sa.MetaData()
    metadata.reflect(connection)
    return metadata


def dump_tables(connection: sa.Connection, skip: tuple[str, ...] = (),
                metadata: sa.MetaData | None = None) -> dict[str, list[tuple]]:  # fmt: skip
    """Every row of every table (reflected: nothing is missed), ordered by primary key.

    Bytes are replaced by their SHA-256 so a dump of stored PDFs stays small.
    """
    metadata = metadata if metadata is not None else reflect(connection)
    dump: dict[str, list[tuple]] = {}
    for table in metadata.sorted_tables:
        if table.name in skip:
            continue
        order = list(table.primary_key.columns) or list(table.columns)
        rows = connection.execute(sa.select(table).order_by(*order)).all()
        dump[table.name] = [tuple(_plain(value) for value in row) for row in rows]
    return dump


@pytest.fixture
def make_app(database_url: str, db) -> Iterator[Callable[..., Flask]]:  # type: ignore[no-untyped-def]
    """A variant of the suite's app (CSRF on, ...) whose requests use the test's rolled-back session."""
    saved = limiter.enabled
    built: list[Flask] = []

    def build(**settings: Any) -> Flask:
        application = build_app(database_url, **settings)
        built.append(application)
        return application

    yield build
    limiter.enabled = saved
    for application in built:
        with application.app_context():
            _db.engine.dispose()


def stub_pdf(template: str, data: dict[str, Any]) -> tuple[bytes, bool]:
    """The document's HTML (rendered by the real template) instead of a WeasyPrint PDF: the
    storage, hashing and audit of documents are what these tests check, in a fraction of the time."""
    from app.documents.services.pdf import html_for

    return b"%PDF-1.7 test stub\n" + html_for(template, data).encode("utf-8"), False


@contextmanager
def cheap_documents() -> Iterator[None]:
    from app.documents.services import generate

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(generate, "render_pdf", stub_pdf)
        yield


class Site:
    """One committed database with an app on it: raw edits, `flask` commands, a dump."""

    def __init__(self, url: str, app: Flask, path: Path | None = None):
        self.url, self.app, self.path = url, app, path

    @property
    def dialect(self) -> str:
        return sa.make_url(self.url).get_backend_name()

    def run(self, sql: str, **params: Any) -> None:
        """Raw SQL around the application, committed (what a DBA with write access could do)."""
        with self.app.app_context(), _db.engine.begin() as connection:
            connection.execute(sa.text(sql), params)

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.app.app_context(), _db.engine.connect() as connection:
            return connection.execute(sa.text(sql), params).scalar()

    def drop_triggers(self, table: str) -> None:
        """Remove the append-only/no-delete triggers of a table, as a tamperer would first."""
        if self.dialect == "postgresql":
            self.run(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            return
        with self.app.app_context(), _db.engine.begin() as connection:
            names = connection.execute(sa.text("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                               "AND tbl_name = :t"), {"t": table}).scalars().all()  # fmt: skip
            for name in names:
                connection.exec_driver_sql(f'DROP TRIGGER "{name}"')

    def flask(self, *args: str) -> Any:
        return self.app.test_cli_runner().invoke(args=list(args))

    def dump(self, skip: tuple[str, ...] = ()) -> dict[str, list[tuple]]:
        with self.app.app_context(), _db.engine.connect() as connection:
            return dump_tables(connection, skip)

    def close(self) -> None:
        dispose(self.app)


def released_lot_site(url: str, path: Path | None = None) -> tuple[Site, Any]:
    """A migrated database holding one lot executed, corrected, tested, reviewed and released
    through the real services (documents rendered by the disposition hook, cheaply)."""
    from tests.documents.conftest import build_dispositioned_lot

    site = Site(url, migrated_app(url), path)
    with site.app.app_context(), cheap_documents():
        released = build_dispositioned_lot(_db.session, user_factory(_db.session))
        _db.session.refresh(released.corrected)  # read by callers after this session has ended
        _db.session.remove()
    return site, released


class Golden:
    """A released-lot SQLite database built once per module; each test tampers with its own copy.

    (SQLite whatever the suite's engine: a copy is a file copy. The PostgreSQL variant of the
    tamper tests uses one database of its own, see test_tamper.py.)
    """

    def __init__(self, workdir: Path):
        self.workdir = workdir
        path = workdir / "golden.sqlite3"
        site, self.released = released_lot_site(f"sqlite:///{path}", path)
        self.ids = {"lot": self.released.lot.id, "corrected_entry": self.released.corrected.id,
                    "documents": {kind.value: d.id for kind, d in self.released.documents.items()}}  # fmt: skip
        site.close()
        self.copies: list[Site] = []

    def copy(self) -> Site:
        import sqlite3

        path = self.workdir / f"copy{len(self.copies)}.sqlite3"
        source, target = sqlite3.connect(self.workdir / "golden.sqlite3"), sqlite3.connect(path)
        source.backup(target)
        source.close()
        target.close()
        site = Site(f"sqlite:///{path}", build_app(f"sqlite:///{path}"), path)
        self.copies.append(site)
        return site

    def close(self) -> None:
        for site in self.copies:
            site.close()


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Golden]:
    built = Golden(tmp_path_factory.mktemp("golden"))
    try:
        yield built
    finally:
        built.close()
