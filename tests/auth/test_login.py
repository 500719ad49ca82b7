"""Login, lockout, idle timeout, forced password change (21 CFR 11.10(d), 11.300)."""


import json

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.auth.services import LOGIN_FAILED
from tests.conftest import PASSWORD


def _events(db, action):
    return db.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


@pytest.mark.req("URS-ACC-011")
def test_login_and_logout_are_audited(client, db, make_user):
    user = make_user("operator")
    response = client.post("/login", data={"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    assert [e.entity_id for e in _events(db, "auth.login")] == [str(user.id)]
    client.post("/logout")
    assert client.get("/").status_code == 302
    assert len(_events(db, "auth.logout")) == 1


@pytest.mark.req("URS-ACC-009", "URS-ACC-011")
def test_unknown_user_and_wrong_password_get_the_same_message(client, db, make_user):
    user = make_user("operator")
    unknown = client.post("/login", data={"username": "nobody", "password": "whatever-password"})
    wrong = client.post("/login", data={"username": user.username, "password": "wrong-password-1"})
    assert unknown.status_code == wrong.status_code == 401
    assert LOGIN_FAILED in unknown.get_data(as_text=True)
    assert LOGIN_FAILED in wrong.get_data(as_text=True)
    failures = _events(db, "auth.login_failed")
    assert {e.entity_id for e in failures} == {None, str(user.id)}


@pytest.mark.req("URS-SEC-006", "URS-ACC-011")
@pytest.mark.parametrize(("hops", "recorded"), [(0, "127.0.0.1"), (1, "203.0.113.7")])
def test_the_client_address_behind_a_trusted_proxy_is_audited(make_app, db, make_user, hops, recorded):
    """Behind nginx (CELLBATCH_PROXY_HOPS=1) the audit trail names the client, not the proxy;
    with no proxy configured a forged X-Forwarded-For is ignored."""
    user = make_user("operator")
    client = make_app(PROXY_HOPS=hops).test_client()
    response = client.post("/login", data={"username": user.username, "password": PASSWORD},
                           headers={"X-Forwarded-For": "203.0.113.7"},
                           environ_base={"REMOTE_ADDR": "127.0.0.1"})  # fmt: skip
    assert response.status_code == 302
    [event] = _events(db, "auth.login")
    assert json.loads(event.details)["ip"] == recorded
