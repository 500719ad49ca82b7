"""Fixtures: app -> db (one rolled-back transaction per test) -> client -> login(role).

The same suite runs on SQLite (default, a temporary file) and on PostgreSQL when
CELLBATCH_TEST_DATABASE_URL is set. The schema is built by the real Alembic migrations.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from flask_sqlalchemy.session import Session as FlaskSession

from app import create_app
from app.audit import capture as audit
from app.audit.capture import Actor
from app.auth import services as users
from app.auth.models import User
from app.auth.policy import AccountPolicy
from app.extensions import db as _db
from config import TestConfig

pytest_plugins = ["tests.lot_fixtures", "tests.validation_plugin"]

PASSWORD = "correct-horse-battery-9"  # noqa: S105 - test accounts only


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("CELLBATCH_TEST_DATABASE_URL", "").startswith("postgresql"):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: set CELLBATCH_TEST_DATABASE_URL")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


def _reset_postgres(url: str) -> None:
    """Empty the test database (its name must say 'test': never wipe a real one)."""
    engine = sa.create_engine(url)
    if "test" not in (engine.url.database or ""):
        raise RuntimeError(f"refusing to reset {engine.url.database!r}: name must contain 'test'")
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("CELLBATCH_TEST_DATABASE_URL")
    if url:
        _reset_postgres(url)
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


@pytest.fixture(scope="session")
def app(database_url: str) -> Iterator[Flask]:
    config = type("SuiteConfig", (TestConfig,), {"SQLALCHEMY_DATABASE_URI": database_url})
    application = create_app(config)
    application.test_client_class = IsolatedClient
    with application.app_context():
        upgrade()
    yield application
    with application.app_context():
        _db.engine.dispose()  # close pooled connections before the interpreter does


@pytest.fixture
def committing_app(database_url: str) -> Iterator[Flask]:
    """A separate app on a fresh PostgreSQL database whose sessions really commit.

    For tests where several threads race (signers, releasers, appenders): the rolled-back
    `db` fixture cannot show what other connections see. Only for @pytest.mark.postgres tests.
    """
    admin = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
    name = f"{admin.url.database}_race_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    config = type("RaceConfig", (TestConfig,), {"SQLALCHEMY_DATABASE_URI": url})
    application = create_app(config)
    with application.app_context():
        upgrade()
    try:
        yield application
    finally:
        with application.app_context():
            _db.engine.dispose()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def run_in_threads(app: Flask, work: Callable[[int], object], count: int = 2) -> list[object]:
    """Run work(i) in `count` threads, each in its own app context and session; results or errors."""
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count

    def target(i: int) -> None:
        with app.app_context():
            barrier.wait()
            try:
                results[i] = work(i)
            except Exception as exc:  # noqa: BLE001 - the test inspects what each thread got
                results[i] = exc
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


class _BoundSession(FlaskSession):
    """Flask-SQLAlchemy's session ignores `bind`; tests bind it to the test's connection."""

    def get_bind(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return self.bind


class IsolatedClient(FlaskClient):
    """Each request gets a fresh app context, as in production (no leaking `g` or session)."""

    def open(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        # Buffered: a streamed body (downloads) is read inside this request's context, as a server would.
        kwargs.setdefault("buffered", True)
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture
def db(app: Flask) -> Iterator:
    """A session whose every commit is a savepoint inside one transaction rolled back after."""
    with app.app_context():
        connection = _db.engine.connect()
        outer = connection.begin()
        original = _db.session
        _db.session = _db._make_scoped_session(
            {"bind": connection, "join_transaction_mode": "create_savepoint", "class_": _BoundSession}
        )
        try:
            yield _db.session
        finally:
            # Each step in its own finally: a test that broke its transaction must still leave
            # nothing open, or the next test waits forever on a lock (seen on PostgreSQL).
            try:
                _db.session.remove()
            finally:
                _db.session = original
                try:
                    outer.rollback()
                finally:
                    connection.close()


@pytest.fixture
def client(app: Flask, db) -> FlaskClient:  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture
def make_user(db) -> Callable[..., User]:  # type: ignore[no-untyped-def]
    """Create a ready-to-use account (password already changed) with the given roles."""
    counter = iter(range(1, 10_000))

    def factory(*roles: str, username: str | None = None, full_name: str | None = None) -> User:
        name = username or f"{(roles or ('user',))[0].replace('_', '')}{next(counter)}"
        user = users.create_user(db, None, name, full_name or f"Test {name.title()}",
                                 list(roles or ["operator"]), PASSWORD, AccountPolicy())  # fmt: skip
        with audit.action(db, "test.user_ready", Actor.system("tests")):
            user.must_change_password = False
        db.commit()
        return user

    return factory


@pytest.fixture
def login(client: FlaskClient) -> Callable[[User], FlaskClient]:
    def do_login(user: User, password: str = PASSWORD) -> FlaskClient:
        response = client.post("/login", data={"username": user.username, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return do_login
