"""Two QA users releasing one lot at the same moment: exactly one decision is recorded.

Runs on PostgreSQL only (real row locks and concurrent transactions), in a fresh database
created for this test through the server's admin database and dropped afterwards, because
each thread must commit for real in its own session.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

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
from app.batches.models import Lot, LotStatus
from app.common.db import unit_of_work
from app.common.errors import ConcurrentChange
from app.extensions import db
from app.mbr.models import TemplateVersion
from app.qc.models import SpecVersion
from app.release import services as release
from app.release.models import Disposition
from config import TestConfig
from tests.conftest import PASSWORD
from tests.qc.conftest import SHORT_SPEC, SHORT_TEMPLATE, Lab, creds, store_effective

pytestmark = pytest.mark.req("URS-REL-004", "URS-DAT-002")


@pytest.fixture
def race_app(database_url: str) -> Iterator[Flask]:
    """An app on a brand-new PostgreSQL database, migrated; the database is dropped after."""
    url = sa.make_url(database_url)
    name = f"cellbatch_race_test_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    config = type("RaceConfig", (TestConfig,), {
        "SQLALCHEMY_DATABASE_URI": url.set(database=name).render_as_string(hide_password=False)})  # fmt: skip
    application = create_app(config)
    try:
        with application.app_context():
            upgrade()
        yield application
    finally:
        with application.app_context():
            db.engine.dispose()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _user(session, name: str, *roles: str) -> User:  # type: ignore[no-untyped-def]
    user = users.create_user(session, None, name, name.title(), list(roles), PASSWORD, AccountPolicy())
    with audit.action(session, "test.user_ready", Actor.system("tests")):
        user.must_change_password = False
    session.commit()
    return user


def _ready_lot(session) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    """Commit an executed, tested, reviewed lot; return its id and the two QA users' ids."""
    people = [_user(session, f"user{i}", role) for i, role in
              enumerate(("operator", "operator", "qc_analyst", "qc_analyst", "qa", "qa"))]  # fmt: skip
    lab = Lab(session, *people, store_effective(session, TemplateVersion, SHORT_TEMPLATE),
              store_effective(session, SpecVersion, SHORT_SPEC))  # fmt: skip
    session.commit()
    lot = lab.lot()
    lab.pass_qc(lot)
    release.start_review(session, lab.qa1, lot)
    release.sign_review(session, lab.qa1, lot, creds(lab.qa1))
    session.commit()
    return lot.id, lab.qa1.id, lab.qa2.id


@pytest.mark.postgres
def test_two_qa_users_releasing_at_once_record_exactly_one_decision(race_app, monkeypatch):
    with race_app.app_context():
        lot_id, *qa_ids = _ready_lot(db.session)
        db.session.remove()
    barrier = threading.Barrier(2, timeout=30)
    checked = release.release_refusals

    def refusals_then_wait(*args, **kwargs):  # type: ignore[no-untyped-def]
        reasons = checked(*args, **kwargs)
        barrier.wait()  # both have read the lot and found it releasable: now both decide
        return reasons

    monkeypatch.setattr(release, "release_refusals", refusals_then_wait)
    monkeypatch.setattr(release, "DISPOSITION_HOOKS", [])  # create_app registered the documents' hook
    outcomes: dict[int, object] = {}

    def decide(qa_id: int) -> None:
        with race_app.app_context():
            session = db.session
            try:
                with unit_of_work(session):
                    qa = session.get(User, qa_id)
                    release.release(session, qa, session.get(Lot, lot_id), creds(qa), "Meets specification")
                outcomes[qa_id] = "released"
            except Exception as exc:  # noqa: BLE001 - the outcome is asserted below
                outcomes[qa_id] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=decide, args=(qa_id,)) for qa_id in qa_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    winners = [qa for qa, outcome in outcomes.items() if outcome == "released"]
    losers = [outcome for outcome in outcomes.values() if outcome != "released"]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    assert isinstance(losers[0], ConcurrentChange), repr(losers[0])
    assert "Another QA decision on lot" in losers[0].message
    with race_app.app_context():
        decisions = db.session.scalars(sa.select(Disposition).where(Disposition.lot_id == lot_id)).all()
        assert [d.decided_by_id for d in decisions] == winners
        assert db.session.get(Lot, lot_id).status == LotStatus.RELEASED
        db.session.remove()
