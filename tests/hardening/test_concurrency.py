"""Concurrent signers (issue #11 point 4), on PostgreSQL with real concurrent transactions.

Two people sign the same record at the same moment: the same step as performed, the same
critical step as verified, the same QC result as reviewed, the same deviation as closed, the same
draft master batch record as approved; and two people record the first investigation of the same
deviation. Each pair is forced to race: both have read the record and passed every check before
either writes (a barrier in the signing ceremony, which a thread blocked on a row lock skips after
a moment). Exactly one signature (or one first entry) is kept, the other person is told, and the
audit chain verifies with every record matching its trail. (Step saves, consumption, release and
chain appends race in tests/batches, tests/inventory, tests/release and tests/audit.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from app.audit.chain import verify_chain
from app.audit.integrity import check_all
from app.auth.models import User
from app.batches import services as batches
from app.batches.models import StepRecord
from app.common.db import unit_of_work
from app.common.errors import RuleViolation
from app.deviations import services as deviations
from app.deviations.models import Deviation
from app.extensions import db as _db
from app.mbr import services as definitions
from app.mbr.models import TemplateVersion
from app.qc import services as qc
from app.qc.models import QCResult
from app.signatures import services as signatures
from app.signatures.models import Signature
from tests.conftest import run_in_threads
from tests.hardening.conftest import PostgresDatabases, dispose, migrated_app, ready_user
from tests.hardening.world import World, build_world
from tests.lot_fixtures import creds

pytestmark = [pytest.mark.postgres, pytest.mark.req("URS-SIG-004", "URS-AUD-005", "URS-DAT-002")]


@pytest.fixture(scope="module")
def site(database_url: str) -> Iterator[tuple[Any, World]]:
    """One committing site for the module (a fresh PostgreSQL database): each test races on
    records of its own, so the tests do not depend on each other."""
    databases = PostgresDatabases(database_url)
    app = migrated_app(databases.url(databases.create("race")), SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 4})
    try:
        with app.app_context():
            world = build_world(_db.session)
            world.user_ids["qc_analyst3"] = ready_user(_db.session, "fz.qc_analyst3", "qc_analyst").id
            _db.session.remove()
        yield app, world
    finally:
        dispose(app)
        databases.drop_all()


def _race(app, monkeypatch, work: Callable[[Any, User], object], people: list[int]) -> list[object]:  # type: ignore[no-untyped-def]
    """Run work(session, person) for two people at once, both past their checks before either signs."""
    barrier = threading.Barrier(2)
    ceremony = signatures.sign

    def sign_when_both_are_ready(*args: Any, **kwargs: Any) -> Any:
        try:
            barrier.wait(timeout=3)
        except threading.BrokenBarrierError:
            pass  # the other one waits on a row lock: the database already serializes them
        return ceremony(*args, **kwargs)

    for module in (batches.signoff, deviations, qc, definitions):
        monkeypatch.setattr(module, "sign", sign_when_both_are_ready)

    def attempt(i: int) -> object:
        session = _db.session
        person = session.get(User, people[i])
        with unit_of_work(session):
            work(session, person)
        return "done"

    return run_in_threads(app, attempt)


def _outcome(results: list[object]) -> list[str]:
    return sorted(r if isinstance(r, str) else type(r).__name__ for r in results)


def _signatures(app, entity_type: str, entity_id: int, meaning: str) -> list[int]:  # type: ignore[no-untyped-def]
    with app.app_context():
        return list(_db.session.scalars(sa.select(Signature.signer_id).where(
            Signature.entity_type == entity_type, Signature.entity_id == str(entity_id),
            Signature.meaning == meaning)))  # fmt: skip


def _intact(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context(), _db.engine.connect() as connection:
        assert verify_chain(connection).ok
        assert check_all(connection, _db.Model) == []


def test_two_operators_sign_the_same_step_at_once(site, monkeypatch):
    app, world = site
    step_id = world.values["batches"]["step_id"]
    inputs = {name.removeprefix("in_"): batches.StepInput(value) for name, value in world.step_inputs.items()}

    def sign_step(session, person) -> None:  # type: ignore[no-untyped-def]
        step = session.get(StepRecord, step_id)
        batches.record_and_sign(session, person, step, inputs, step.version_id, creds(person))

    results = _race(app, monkeypatch, sign_step, [world.user_ids["operator"], world.user_ids["supervisor"]])
    assert _outcome(results) == ["ConcurrentChange", "done"], results
    assert len(_signatures(app, "StepRecord", step_id, "performed")) == 1
    _intact(app)


def test_two_verifiers_verify_the_same_step_at_once(site, monkeypatch):
    app, world = site
    step_id = world.values["batches.verify"]["step_id"]

    def verify(session, person) -> None:  # type: ignore[no-untyped-def]
        step = session.get(StepRecord, step_id)
        batches.verify_step(session, person, step, creds(person), step.version_id)

    results = _race(app, monkeypatch, verify, [world.user_ids["operator2"], world.user_ids["supervisor"]])
    assert _outcome(results) == ["ConcurrentChange", "done"], results
    assert len(_signatures(app, "StepRecord", step_id, "verified")) == 1
    _intact(app)


def test_two_analysts_review_the_same_result_at_once(site, monkeypatch):
    app, world = site
    result_id = world.values["qc_results"]["result_id"]

    def review(session, person) -> None:  # type: ignore[no-untyped-def]
        qc.review_result(session, person, session.get(QCResult, result_id), creds(person))

    results = _race(app, monkeypatch, review, [world.user_ids["qc_analyst2"], world.user_ids["qc_analyst3"]])
    assert _outcome(results) == ["RuleViolation", "done"], results
    assert len(_signatures(app, "QCResult", result_id, "reviewed")) == 1
    _intact(app)


def test_two_qa_users_close_the_same_deviation_at_once(site, monkeypatch):
    app, world = site
    deviation_id = world.values["deviations.close"]["deviation_id"]

    def close(session, person) -> None:  # type: ignore[no-untyped-def]
        deviations.close(session, person, session.get(Deviation, deviation_id), creds(person))

    results = _race(app, monkeypatch, close, [world.user_ids["qa"], world.user_ids["qa2"]])
    assert _outcome(results) == ["RuleViolation", "done"], results
    [loser] = [r for r in results if isinstance(r, RuleViolation)]
    assert "is already closed" in loser.message  # a refusal a user can act on, not a database error
    [closer] = _signatures(app, "Deviation", deviation_id, "approved")
    with app.app_context():
        assert _db.session.get(Deviation, deviation_id).closed_by_id == closer
        _db.session.remove()
    _intact(app)


def test_two_investigators_record_the_first_investigation_at_once(site, monkeypatch):
    """The second must not overwrite the first's root cause as if it were the first entry."""
    app, world = site
    deviation_id = world.values["deviations"]["deviation_id"]
    barrier = threading.Barrier(2)
    record = deviations.record_investigation

    def investigate(i: int) -> object:
        session = _db.session
        person = session.get(User, (world.user_ids["supervisor"], world.user_ids["qa"])[i])
        deviation = session.get(Deviation, deviation_id)
        assert deviation.root_cause is None  # both read the deviation before either writes
        try:
            barrier.wait(timeout=3)
        except threading.BrokenBarrierError:
            pass
        with unit_of_work(session):
            record(session, person, deviation, f"Root cause by {person.username}", "None", None)
        return "done"

    results = run_in_threads(app, investigate)
    assert _outcome(results) == ["ReasonRequired", "done"] or _outcome(results) == ["RuleViolation", "done"], results
    _intact(app)


def test_two_qa_users_approve_the_same_draft_at_once(site, monkeypatch):
    app, world = site
    version_id = world.values["mbr"]["version_id"]

    def approve(session, person) -> None:  # type: ignore[no-untyped-def]
        definitions.approve(session, person, session.get(TemplateVersion, version_id), creds(person))

    results = _race(app, monkeypatch, approve, [world.user_ids["qa"], world.user_ids["qa2"]])
    assert _outcome(results) == ["RuleViolation", "done"], results
    assert len(_signatures(app, "TemplateVersion", version_id, "approved")) == 1
    _intact(app)
