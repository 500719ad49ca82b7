"""A signature's re-entered password is checked against what argon2id proved earlier in the same
login session, kept only in the process's memory; every rule of the ceremony stays as it was."""

from __future__ import annotations

from datetime import timedelta

import pytest
from freezegun import freeze_time

from app.auth import password_memory, passwords, services
from app.auth.policy import AccountPolicy
from app.common.db import unit_of_work
from app.common.errors import RuleViolation
from app.common.timeutil import utcnow
from app.signatures.services import Credentials, sign
from tests.auth.helpers import events
from tests.conftest import PASSWORD


class CountingHasher:
    """The suite's argon2id hasher, counting the checks it computes."""

    def __init__(self, hasher) -> None:  # type: ignore[no-untyped-def]
        self.hasher, self.checks = hasher, 0

    def verify(self, password_hash: str, password: str) -> bool:
        self.checks += 1
        return self.hasher.verify(password_hash, password)

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.hasher, name)


@pytest.fixture
def argon2(monkeypatch) -> CountingHasher:  # type: ignore[no-untyped-def]
    counting = CountingHasher(passwords._hasher)
    monkeypatch.setattr(passwords, "_hasher", counting)
    return counting


def _log_in(db, user):  # type: ignore[no-untyped-def]
    with unit_of_work(db):
        services.login(db, user.username, PASSWORD, "10.0.0.1", AccountPolicy.current())


def _sign(db, user, note, password=PASSWORD):  # type: ignore[no-untyped-def]
    creds = Credentials(password=password, username=user.username, accept_policy=True, ip="10.0.0.1")
    with unit_of_work(db):
        return sign(db, user, note, "performed", creds)


@pytest.mark.req("URS-SIG-001", "URS-SEC-007")
def test_later_signatures_of_a_session_need_no_argon2_and_a_wrong_password_still_counts(
    db, make_user, make_note, argon2
):  # fmt: skip
    user = make_user("operator")
    _log_in(db, user)
    assert argon2.checks == 1
    for _ in range(3):
        _sign(db, user, make_note())
    assert argon2.checks == 1  # the login's check: each signature compared with its memory

    with pytest.raises(RuleViolation, match="password is wrong"):
        _sign(db, user, make_note(), password="not-my-password-1")
    db.refresh(user)
    assert user.failed_attempts == 1
    assert [e.action for e in events(db, "signature.refused")] == ["signature.refused"]
    assert argon2.checks == 1

    remembered = repr(password_memory._entries)
    assert PASSWORD not in remembered and PASSWORD.encode().hex() not in remembered


@pytest.mark.req("URS-SEC-007")
def test_a_new_session_token_or_password_is_never_answered_from_memory(db, make_user, make_note, argon2):
    user = make_user("operator")
    _log_in(db, user)
    with unit_of_work(db):
        services.logout(db, user)  # a new token: the memory of the old session is never consulted
    _sign(db, user, make_note())
    assert argon2.checks == 2

    new_password = "a-brand-new-secret-42"
    with unit_of_work(db):
        services.change_password(db, user, PASSWORD, new_password, new_password, "10.0.0.1", AccountPolicy.current())
    with pytest.raises(RuleViolation, match="password is wrong"):
        _sign(db, user, make_note())  # the old password, checked against the new hash
    _sign(db, user, make_note(), password=new_password)


@pytest.mark.req("URS-SEC-007")
def test_the_memory_ends_after_the_idle_timeout_since_its_last_use(app, db, make_user, make_note, argon2):
    user = make_user("operator")
    idle = timedelta(minutes=app.config["IDLE_TIMEOUT_MINUTES"])
    start = utcnow()
    with freeze_time(start) as clock:
        _log_in(db, user)
        clock.tick(idle - timedelta(seconds=5))
        _sign(db, user, make_note())  # renews the memory's life
        clock.tick(idle - timedelta(seconds=5))
        _sign(db, user, make_note())
        assert argon2.checks == 1
        clock.tick(idle + timedelta(seconds=1))
        _sign(db, user, make_note())
        assert argon2.checks == 2


@pytest.mark.req("URS-SEC-007")
def test_a_site_can_require_argon2_at_every_signature(app, db, make_user, make_note, argon2, monkeypatch):
    monkeypatch.setitem(app.config, "SIGNING_PASSWORD_MEMORY", False)
    user = make_user("operator")
    _log_in(db, user)
    _sign(db, user, make_note())
    _sign(db, user, make_note())
    assert argon2.checks == 3
