"""Idle expiry, deactivation, session rotation, redirects and headers (11.10(d), 11.200)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from freezegun import freeze_time

from app.auth import services
from tests.auth.helpers import events, is_login_redirect, log_in


@pytest.mark.req("URS-ACC-010", "URS-ACC-011")
def test_idle_session_expires_after_fifteen_minutes(client, db, make_user):
    with freeze_time("2026-03-02 09:00:00") as clock:
        user = make_user("qa")
        assert log_in(client, user.username).status_code == 302
        clock.tick(timedelta(minutes=14))
        assert client.get("/audit/").status_code == 200
        clock.tick(timedelta(minutes=14))  # activity restarted the clock: 14 idle minutes again
        assert client.get("/").status_code == 200
        clock.tick(timedelta(minutes=16))
        expired = client.get("/audit/")
        assert is_login_redirect(expired)
        assert expired.headers["Location"].startswith("/login?next=/audit/")
        [event] = events(db, "auth.session_expired")
        assert (event.actor_id, event.entity_id) == (user.id, str(user.id))
        assert is_login_redirect(client.get("/"))  # the session is gone, not just refused once


@pytest.mark.req("URS-ACC-003")
def test_deactivated_user_is_logged_out_at_once_and_cannot_log_in(client, db, make_user):
    user = make_user("operator")
    admin = make_user("admin")
    assert log_in(client, user.username).status_code == 302
    assert client.get("/").status_code == 200
    services.set_active(db, admin, user, False, "Left the company")
    db.commit()
    assert is_login_redirect(client.get("/"))
    assert log_in(client, user.username).status_code == 401
    assert events(db, "auth.login_failed")[-1].details == '{"ip":"127.0.0.1","why":"inactive"}'


@pytest.mark.req("URS-ACC-003")
def test_old_sessions_stay_dead_after_reactivation(app, db, make_user):
    user = make_user("operator")
    admin = make_user("admin")
    old = app.test_client()
    assert log_in(old, user.username).status_code == 302
    services.set_active(db, admin, user, False, "Long leave")
    services.set_active(db, admin, user, True, "Back from leave")
    db.commit()
    assert is_login_redirect(old.get("/"))  # the old cookie names a rotated-away token
    fresh = app.test_client()
    assert log_in(fresh, user.username).status_code == 302
    assert fresh.get("/").status_code == 200


@pytest.mark.req("URS-ACC-003")
def test_password_reset_ends_the_users_open_session(client, db, make_user):
    user = make_user("operator")
    admin = make_user("admin")
    log_in(client, user.username)
    services.reset_password(db, admin, user, "temporary-secret-77", "Forgotten", services.AccountPolicy())
    db.commit()
    assert is_login_redirect(client.get("/"))


@pytest.mark.req("URS-ACC-011", "URS-ACC-010")
def test_logout_is_audited_and_ends_the_session(client, db, make_user):
    user = make_user("operator")
    log_in(client, user.username)
    assert client.post("/logout").headers["Location"] == "/login"
    assert is_login_redirect(client.get("/"))
    assert [e.actor_id for e in events(db, "auth.logout")] == [user.id]


@pytest.mark.req("URS-SEC-003")
def test_login_only_redirects_within_the_site(client, db, make_user):
    user = make_user("qa")
    for target, expected in (("/audit/", "/audit/"), ("https://evil.example/", "/"),
                             ("//evil.example/", "/"), ("/\\evil.example/", "/")):  # fmt: skip
        response = log_in(client, user.username, query_string={"next": target})
        assert response.headers["Location"] == expected, target
        client.post("/logout")


@pytest.mark.req("URS-SEC-003")
def test_pages_carry_security_headers(client, db, make_user):
    user = make_user("operator")
    login_page = client.get("/login")
    assert "frame-ancestors 'none'" in login_page.headers["Content-Security-Policy"]
    assert login_page.headers["X-Frame-Options"] == "DENY"
    log_in(client, user.username)
    assert client.get("/").headers["Cache-Control"] == "no-store"
