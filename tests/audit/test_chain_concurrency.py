"""Concurrent writers never fork the chain (PostgreSQL advisory lock; committed, so own database)."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy.engine import make_url

from app import create_app
from app.audit import capture as audit
from app.audit.capture import Actor
from app.audit.chain import verify_chain
from app.audit.models import AuditEvent
from app.common.db import unit_of_work
from app.extensions import db as _db
from config import TestConfig

pytestmark = pytest.mark.req("URS-AUD-005")

THREADS = 8
TRANSACTIONS = 40  # per thread; each appends 1 to 3 events


@pytest.fixture
def chain_app(database_url: str) -> Iterator[Flask]:
    """An app on a fresh PostgreSQL database of its own, dropped afterwards."""
    url = make_url(database_url)
    name = f"{url.database}_chain_{secrets.token_hex(4)}"
    server = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        config = type("ChainConfig", (TestConfig,), {
            "SQLALCHEMY_DATABASE_URI": url.set(database=name).render_as_string(hide_password=False),
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": THREADS, "max_overflow": 2},
        })  # fmt: skip
        app = create_app(config)
        with app.app_context():
            upgrade()
        yield app
        with app.app_context():
            _db.engine.dispose()
    finally:
        with server.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        server.dispose()


def _append(app: Flask, worker: int, errors: list[BaseException]) -> None:
    try:
        with app.app_context():
            for n in range(TRANSACTIONS):
                with unit_of_work(_db.session) as session:
                    for part in range(1 + (worker + n) % 3):
                        audit.record(session, "test.concurrent", Actor.system(f"worker {worker}"),
                                     entity_ref=("Worker", str(worker)), n=n, part=part)  # fmt: skip
    except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
        errors.append(exc)


@pytest.mark.postgres
def test_concurrent_appends_keep_one_gapless_verified_chain(chain_app):
    errors: list[BaseException] = []
    threads = [threading.Thread(target=_append, args=(chain_app, w, errors)) for w in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    expected = sum(1 + (w + n) % 3 for w in range(THREADS) for n in range(TRANSACTIONS))
    with chain_app.app_context(), _db.engine.connect() as connection:
        report = verify_chain(connection)
        ids = connection.execute(sa.select(AuditEvent.id).order_by(AuditEvent.id)).scalars().all()
        workers = connection.execute(sa.select(sa.func.count(sa.distinct(AuditEvent.entity_id)))).scalar()
    assert ids == list(range(1, expected + 1))
    assert (report.ok, report.count, workers) == (True, expected, THREADS)
