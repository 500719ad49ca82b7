"""Password policy and the forced change of initial and reset passwords (21 CFR 11.300)."""

from __future__ import annotations

import pytest

from app.auth import services
from app.auth.passwords import verify_password
from app.auth.policy import AccountPolicy
from app.common.errors import RuleViolation
from tests.auth.helpers import events, log_in, text
from tests.conftest import PASSWORD

NEW = "a-brand-new-secret-42"


def _change(client, current=PASSWORD, new=NEW, confirm=None):  # type: ignore[no-untyped-def]
    return client.post("/password", data={"current": current, "new": new,
                                          "confirm": new if confirm is None else confirm})  # fmt: skip


@pytest.mark.req("URS-ACC-005")
def test_minimum_length_comes_from_the_configuration(app, client, db, make_user, monkeypatch):
    user = make_user("operator")
    assert log_in(client, user.username).status_code == 302
    monkeypatch.setitem(app.config, "PASSWORD_MIN_LENGTH", 24)
    refused = _change(client, new="only-twenty-chars-xx")
    assert refused.status_code == 400
    assert "at least 24 characters" in text(refused)
    db.refresh(user)
    assert verify_password(user.password_hash, PASSWORD)
    accepted = _change(client, new="twenty-four-characters!!")
    assert accepted.status_code == 302
    db.refresh(user)
    assert verify_password(user.password_hash, "twenty-four-characters!!")


@pytest.mark.req("URS-ACC-005")
@pytest.mark.parametrize("new", ["my-Alice.Smith-pass-1", "ALICE.SMITH-is-my-name"])
def test_password_must_not_contain_the_username(client, db, make_user, new):
    user = make_user("operator", username="alice.smith")
    log_in(client, user.username)
    response = _change(client, new=new)
    assert response.status_code == 400
    assert "must not contain the username" in text(response)
    assert events(db, "auth.password_changed") == []


@pytest.mark.req("URS-ACC-005")
def test_new_password_must_differ_from_the_current_one(client, db, make_user):
    user = make_user("operator")
    log_in(client, user.username)
    response = _change(client, new=PASSWORD)
    assert response.status_code == 400
    assert "must differ from the current one" in text(response)
    assert events(db, "auth.password_changed") == []


@pytest.mark.req("URS-ACC-005")
def test_confirmation_must_match(client, db, make_user):
    user = make_user("operator")
    log_in(client, user.username)
    response = _change(client, confirm=NEW + "x")
    assert response.status_code == 400
    assert "The two new passwords differ." in text(response)


@pytest.mark.req("URS-ACC-008")
def test_wrong_current_password_is_refused_and_counted(client, db, make_user):
    user = make_user("operator")
    log_in(client, user.username)
    response = _change(client, current="not-my-password-1")
    assert response.status_code == 400
    assert "current password is wrong" in text(response)
    assert [e.entity_id for e in events(db, "auth.login_failed")] == [str(user.id)]
    db.refresh(user)
    assert user.failed_attempts == 1


@pytest.mark.req("URS-ACC-005", "URS-ACC-006")
def test_policy_applies_to_initial_and_reset_passwords(db, make_user):
    admin = make_user("admin")
    policy = AccountPolicy(min_length=12)
    with pytest.raises(RuleViolation) as short:
        services.create_user(db, admin, "bob", "Bob B", ["operator"], "short-1", policy)
    assert any("at least 12" in r for r in short.value.reasons)
    with pytest.raises(RuleViolation) as named:
        services.create_user(db, admin, "bob", "Bob B", ["operator"], "bob-bob-bob-bob-1", policy)
    assert any("username" in r for r in named.value.reasons)
    db.rollback()
    user = make_user("operator")
    with pytest.raises(RuleViolation):
        services.reset_password(db, admin, user, f"x{user.username}-temporary-1", "forgot", policy)


@pytest.mark.req("URS-ACC-005", "URS-AUD-001")
def test_successful_change_is_audited_and_the_old_password_stops_working(client, db, make_user):
    user = make_user("operator")
    log_in(client, user.username)
    assert _change(client).status_code == 302
    assert client.get("/").status_code == 200  # the session continues with the rotated token
    [event] = events(db, "auth.password_changed")
    assert (event.actor_id, event.entity_id) == (user.id, str(user.id))
    client.post("/logout")
    assert log_in(client, user.username).status_code == 401
    assert log_in(client, user.username, NEW).status_code == 302


@pytest.mark.req("URS-ACC-006")
def test_initial_password_must_be_changed_before_anything_else(app, client, db, make_user):
    admin = make_user("admin")
    user = services.create_user(db, admin, "new.qa", "New Qa", ["qa"], "initial-password-1", AccountPolicy())
    db.commit()
    response = log_in(client, "new.qa", "initial-password-1")
    assert response.status_code == 302
    for path in ("/", "/audit/", "/audit/export.csv", "/admin/users/1"):
        blocked = client.get(path)
        if path == "/admin/users/1":
            assert blocked.status_code == 403  # not their role: refused before anything else
            continue
        assert blocked.status_code == 302, path
        assert blocked.headers["Location"] == "/password", path
    assert client.get("/password").status_code == 200
    assert _change(client, current="initial-password-1").status_code == 302
    assert client.get("/audit/").status_code == 200
    db.refresh(user)
    assert user.must_change_password is False
    assert len(events(db, "auth.password_changed", actor_id=user.id)) == 1


@pytest.mark.req("URS-ACC-007")
def test_expired_password_must_be_changed(app, client, db, make_user, monkeypatch):
    from freezegun import freeze_time

    with freeze_time("2026-01-01 08:00:00"):
        user = make_user("operator")
    monkeypatch.setitem(app.config, "PASSWORD_MAX_AGE_DAYS", 90)
    with freeze_time("2026-04-02 08:00:00"):  # 91 days later
        assert log_in(client, user.username).status_code == 302
        assert client.get("/").headers["Location"] == "/password"
