"""Lockout after repeated wrong passwords, its expiry, and its alert (21 CFR 11.300(d))."""

from __future__ import annotations

from datetime import timedelta

import pytest
from freezegun import freeze_time

from app.auth.services import LOGIN_FAILED
from tests.auth.helpers import details, events, log_in, text

pytestmark = pytest.mark.req("URS-ACC-008")

WRONG = "not-the-password-1"


def _fail(client, user, times):  # type: ignore[no-untyped-def]
    for _ in range(times):
        assert log_in(client, user.username, WRONG).status_code == 401


def test_five_wrong_passwords_lock_the_account_for_thirty_minutes(client, db, make_user):
    with freeze_time("2026-03-02 09:00:00") as clock:
        user = make_user("operator")
        _fail(client, user, 4)
        assert not events(db, "auth.locked")
        _fail(client, user, 1)
        [locked] = events(db, "auth.locked")
        assert (locked.entity_id, details(locked)["minutes"]) == (str(user.id), 30)
        assert len(events(db, "auth.login_failed", entity_id=str(user.id))) == 5

        clock.tick(timedelta(minutes=29))
        refused = log_in(client, user.username)  # the right password, still locked
        assert refused.status_code == 401
        assert LOGIN_FAILED in text(refused)
        assert details(events(db, "auth.login_failed")[-1])["why"] == "locked"

        clock.tick(timedelta(minutes=2))  # 31 minutes after the lock
        assert log_in(client, user.username).status_code == 302
        assert client.get("/").status_code == 200
        assert [e.entity_id for e in events(db, "auth.lock_expired")] == [str(user.id)]


@pytest.mark.req("URS-ACC-009")
def test_locked_user_gets_the_same_message_as_a_wrong_password(client, db, make_user):
    user = make_user("operator")
    wrong = log_in(client, user.username, WRONG)
    _fail(client, user, 4)
    locked = log_in(client, user.username)
    unknown = log_in(client, "no.such.user")
    assert wrong.status_code == locked.status_code == unknown.status_code == 401
    assert text(wrong) == text(locked) == text(unknown).replace("no.such.user", user.username)


def test_only_consecutive_failures_count(client, db, make_user):
    user = make_user("operator")
    _fail(client, user, 4)
    assert log_in(client, user.username).status_code == 302
    client.post("/logout")
    _fail(client, user, 4)
    assert log_in(client, user.username).status_code == 302
    assert events(db, "auth.locked") == []


@pytest.mark.req("URS-ACC-012")
def test_admin_unlocks_in_the_ui_and_the_trail_shows_lock_and_unlock(client, db, make_user, login):
    user = make_user("operator")
    admin = make_user("admin")
    _fail(client, user, 5)
    login(admin)
    page = client.get(f"/admin/users/{user.id}")
    assert "locked until" in text(page)
    assert client.post(f"/admin/users/{user.id}/unlock", data={"reason": ""}).status_code == 400
    response = client.post(f"/admin/users/{user.id}/unlock", data={"reason": "Identity confirmed by phone"})
    assert response.status_code == 302
    [unlocked] = events(db, "auth.unlocked", entity_id=str(user.id), changes="{}")
    assert (unlocked.actor_id, unlocked.reason) == (admin.id, "Identity confirmed by phone")
    client.post("/logout")
    assert log_in(client, user.username).status_code == 302
    trail = [e.action for e in events(db, entity_id=str(user.id)) if e.action.startswith("auth.")]
    assert trail == ["auth.login_failed"] * 5 + ["auth.locked", "auth.unlocked", "auth.unlocked", "auth.login"]


def test_qa_sees_recent_lockouts_on_the_start_page(client, db, make_user, login):
    user = make_user("operator", full_name="Locked Lou")
    qa = make_user("qa")
    _fail(client, user, 5)
    login(qa)
    page = text(client.get("/"))
    assert "Security alerts: 1 account lockout(s)" in page
    assert "Locked Lou" in page
