"""argon2id parameters are site configuration with OWASP's minimum as the production floor; a hash
made with other parameters keeps working and is rehashed, audited, at its owner's next login."""

from __future__ import annotations

import json

import pytest
from argon2 import PasswordHasher, extract_parameters
from sqlalchemy import select

from app import create_app
from app.audit import capture as audit
from app.audit.capture import Actor
from app.audit.models import AuditEvent
from app.auth import passwords, services
from app.auth.policy import AccountPolicy
from app.common.errors import RuleViolation
from config import OWASP_ARGON2ID_MIN_MEMORY_KIB, Config, ProductionConfig, TestConfig, argon2_problems
from tests.conftest import PASSWORD

POSTGRES = "postgresql+psycopg://cellbatch@db.example/cellbatch"
#: What accounts were hashed with before issue #10: argon2-cffi's defaults (t=3, 64 MiB, p=4) in
#: production; small here so the test stays fast, but different from TestConfig's parameters.
OLD = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=2)


def production(**argon2):  # type: ignore[no-untyped-def]
    settings = {f"ARGON2_{k.upper()}": v for k, v in argon2.items()}
    return type("SiteProduction", (ProductionConfig,), {"SECRET_KEY": "x" * 32, "SQLALCHEMY_DATABASE_URI": POSTGRES,
                                                        **settings})  # fmt: skip


@pytest.fixture
def keep_hasher(monkeypatch):  # type: ignore[no-untyped-def]
    """Building another app reconfigures the module's hasher: restore the suite's afterwards."""
    monkeypatch.setattr(passwords, "_hasher", passwords._hasher)
    monkeypatch.setattr(passwords, "_dummy_hash", passwords._dummy_hash)


@pytest.mark.req("URS-SEC-005")
def test_the_shipped_default_meets_owasp_and_owasps_settings_are_all_accepted():
    assert argon2_problems(Config.ARGON2_TIME_COST, Config.ARGON2_MEMORY_COST, Config.ARGON2_PARALLELISM) == []
    production().check()
    for time_cost, memory in OWASP_ARGON2ID_MIN_MEMORY_KIB.items():
        production(time_cost=time_cost, memory_cost=memory, parallelism=1).check()
    production(time_cost=3, memory_cost=65536, parallelism=4).check()  # the library default: stronger
    production(time_cost=8, memory_cost=7168, parallelism=1).check()  # more passes than the table lists


@pytest.mark.req("URS-SEC-004", "URS-SEC-005")
@pytest.mark.parametrize(("time_cost", "memory_cost", "parallelism"), [
    (1, 47103, 1), (2, 19455, 1), (3, 12287, 1), (4, 9215, 1), (5, 7167, 1), (9, 7167, 1),
    (TestConfig.ARGON2_TIME_COST, TestConfig.ARGON2_MEMORY_COST, 1), (0, 65536, 1), (2, 19456, 0),
])  # fmt: skip
def test_production_refuses_to_start_with_weaker_hashing_than_owasps_minimum(time_cost, memory_cost, parallelism):
    config = production(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)
    with pytest.raises(RuntimeError, match="OWASP|at least 1"):
        create_app(config)


@pytest.mark.req("URS-SEC-005")
@pytest.mark.parametrize(("time_cost", "memory_cost", "parallelism"), [(0, 1024, 1), (1, 1024, 0), (1, 15, 2)])
def test_impossible_argon2_parameters_are_refused_in_every_environment(keep_hasher, time_cost, memory_cost,
                                                                       parallelism):  # fmt: skip
    with pytest.raises(ValueError, match="invalid argon2id parameters"):
        passwords.configure(time_cost, memory_cost, parallelism)


@pytest.mark.req("URS-SEC-005")
def test_all_three_configured_parameters_make_new_hashes(keep_hasher, make_app):
    make_app(ARGON2_TIME_COST=2, ARGON2_MEMORY_COST=2048, ARGON2_PARALLELISM=2)
    made = extract_parameters(passwords.hash_password(PASSWORD))
    assert (made.time_cost, made.memory_cost, made.parallelism) == (2, 2048, 2)


def _with_old_hash(db, user):  # type: ignore[no-untyped-def]
    with audit.action(db, "test.old_hash", Actor.system("tests")):
        user.password_hash = OLD.hash(PASSWORD)
    db.commit()
    return user.password_hash


def _rehash_events(db, user):  # type: ignore[no-untyped-def]
    return db.scalars(select(AuditEvent).where(AuditEvent.action == "auth.password_rehashed",
                                               AuditEvent.entity_id == str(user.id))).all()  # fmt: skip


@pytest.mark.req("URS-SEC-005", "URS-AUD-001", "URS-ACC-011")
def test_a_hash_with_other_parameters_works_and_is_rehashed_at_the_next_login(db, make_user, client):
    user = make_user("operator")
    old_hash = _with_old_hash(db, user)
    changed_at, token = user.password_changed_at, user.session_token
    assert passwords.verify_password(old_hash, PASSWORD) and passwords.needs_rehash(old_hash)

    assert client.post("/login", data={"username": user.username, "password": PASSWORD}).status_code == 302
    db.expire_all()
    assert user.password_hash != old_hash and not passwords.needs_rehash(user.password_hash)
    assert passwords.verify_password(user.password_hash, PASSWORD)
    assert user.password_changed_at == changed_at and user.session_token == token  # same password, same sessions
    [event] = _rehash_events(db, user)
    assert json.loads(event.changes) == {"password_hash": ["(secret changed)", "(secret changed)"]}
    details = json.loads(event.details)
    assert details["before"] == "argon2id t=2 m=2048 KiB p=2"
    assert details["after"] == passwords.parameters_of(user.password_hash)
    assert event.actor_id == user.id

    services.login(db, user.username, PASSWORD, "127.0.0.1", AccountPolicy())  # current parameters now
    db.commit()
    assert len(_rehash_events(db, user)) == 1


@pytest.mark.req("URS-SEC-005")
def test_a_wrong_password_rehashes_nothing(db, make_user):
    user = make_user("operator")
    old_hash = _with_old_hash(db, user)
    with pytest.raises(RuleViolation):
        services.login(db, user.username, "not-the-password-at-all", "127.0.0.1", AccountPolicy())
    db.rollback()
    db.expire_all()
    assert user.password_hash == old_hash and _rehash_events(db, user) == []
