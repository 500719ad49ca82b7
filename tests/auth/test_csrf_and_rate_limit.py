"""CSRF protection of every form and the per-IP login rate limit (apps built with them on)."""

from __future__ import annotations

import re

import pytest

from app.auth.models import User
from tests.auth.helpers import events, log_in, text
from tests.conftest import PASSWORD


def _token(page: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


@pytest.mark.req("URS-SEC-001")
def test_post_without_csrf_token_is_refused_and_changes_nothing(make_app, db, make_user):
    app = make_app(WTF_CSRF_ENABLED=True)
    admin = make_user("admin")
    user = make_user("operator")
    client = app.test_client()

    refused = client.post("/login", data={"username": admin.username, "password": PASSWORD})
    assert refused.status_code == 400
    assert "did not come from this site" in text(refused)
    assert events(db, "auth.login") == []

    token = _token(text(client.get("/login")))
    response = client.post("/login", data={"username": admin.username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302

    forged = client.post(f"/admin/users/{user.id}/deactivate", data={"reason": "Forged"})
    assert forged.status_code == 400
    db.refresh(user)
    assert user.active is True
    assert events(db, "user.deactivated") == []

    token = _token(text(client.get(f"/admin/users/{user.id}")))
    done = client.post(f"/admin/users/{user.id}/deactivate", data={"reason": "Real", "csrf_token": token})
    assert done.status_code == 302
    assert db.get(User, user.id, populate_existing=True).active is False


@pytest.mark.req("URS-SEC-002")
def test_login_is_rate_limited_per_ip(make_app, db, make_user):
    app = make_app(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute")
    user = make_user("operator")
    client = app.test_client()
    for _ in range(3):
        assert log_in(client, user.username, "wrong-password-1").status_code == 401
    limited = log_in(client, user.username)
    assert limited.status_code == 429
    assert events(db, "auth.login") == []  # the right password did not get through either
    assert client.get("/login").status_code == 200  # only POSTs are counted
    other_ip = log_in(client, user.username, environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert other_ip.status_code == 302



@pytest.mark.req("URS-SEC-002")
def test_suite_app_is_not_limited_after_the_limited_app_is_gone(client, db):
    # Runs after the test above: make_app restored the shared limiter, so the suite's app
    # (RATELIMIT_ENABLED=False) accepts more POSTs than any configured limit.
    for _ in range(21):
        assert log_in(client, "nobody.at.all", "wrong-password-1").status_code == 401
