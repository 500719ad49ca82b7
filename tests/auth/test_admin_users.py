"""The administrator's user management: every access change in the trail (Annex 11 §12, 11.100)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.auth import services
from app.auth.models import User
from app.auth.policy import AccountPolicy
from app.common.errors import RuleViolation
from tests.auth.helpers import changes, events, is_login_redirect, log_in, text

TEMP = "temporary-secret-77"


@pytest.fixture
def admin_client(client, make_user, login):  # type: ignore[no-untyped-def]
    admin = make_user("admin", full_name="Ada Admin")
    login(admin)
    client.admin = admin
    return client


def _user(db, username):  # type: ignore[no-untyped-def]
    db.expire_all()
    return db.scalar(select(User).where(User.username == username))


@pytest.mark.req("URS-ACC-012", "URS-ACC-006")
def test_admin_creates_a_user_who_must_change_the_password(admin_client, db):
    response = admin_client.post("/admin/users/new", data={
        "username": "Olga.Op", "full_name": "Olga Operator", "roles": ["operator", "supervisor"],
        "password": "initial-secret-1"})  # fmt: skip
    user = _user(db, "olga.op")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/admin/users/{user.id}"
    assert (user.roles, user.must_change_password, user.active) == ("operator,supervisor", True, True)
    [created] = events(db, "user.created", entity_id=str(user.id))
    assert (created.actor_id, created.actor_name) == (admin_client.admin.id, "Ada Admin (admin1)")
    assert changes(created)["username"] == [None, "olga.op"]
    assert changes(created)["password_hash"] == [None, "(secret changed)"]
    assert "initial-secret-1" not in created.changes
    assert "Olga Operator" in text(admin_client.get("/admin/users"))


@pytest.mark.req("URS-ACC-004")
def test_usernames_are_never_reused(admin_client, db):
    admin = admin_client.admin
    policy = AccountPolicy()
    user = services.create_user(db, admin, "dora", "Dora D", ["qa"], "initial-secret-1", policy)
    services.set_active(db, admin, user, False, "Left the company")
    db.commit()
    with pytest.raises(RuleViolation, match="never reused"):
        services.create_user(db, admin, "DORA", "Another Dora", ["qa"], "initial-secret-2", policy)
    db.rollback()
    response = admin_client.post("/admin/users/new", data={
        "username": "dora", "full_name": "Dora Two", "roles": ["qa"], "password": "initial-secret-2"})
    assert response.status_code == 409
    assert "never reused" in text(response)
    assert db.scalar(select(User.full_name).where(User.username == "dora")) == "Dora D"


@pytest.mark.req("URS-ACC-013")
def test_admin_role_cannot_be_combined(admin_client, db, make_user):
    response = admin_client.post("/admin/users/new", data={
        "username": "root2", "full_name": "Root Two", "roles": ["admin", "qa"], "password": "initial-secret-1"})
    assert response.status_code == 400
    assert "cannot be combined" in text(response)
    assert _user(db, "root2") is None
    user = make_user("qa")
    refused = admin_client.post(f"/admin/users/{user.id}/roles", data={"roles": ["qa", "admin"], "reason": "x"})
    assert refused.status_code == 400
    assert _user(db, user.username).roles == "qa"


@pytest.mark.req("URS-ACC-012", "URS-AUD-003")
def test_role_change_needs_a_reason_and_shows_old_and_new(admin_client, db, make_user):
    user = make_user("operator")
    missing = admin_client.post(f"/admin/users/{user.id}/roles", data={"roles": ["qa"], "reason": ""})
    assert missing.status_code == 400
    assert _user(db, user.username).roles == "operator"
    with pytest.raises(RuleViolation, match="reason"):
        services.set_roles(db, admin_client.admin, _user(db, user.username), ["qa"], reason=" ")
    db.rollback()
    response = admin_client.post(f"/admin/users/{user.id}/roles",
                                 data={"roles": ["qa", "supervisor"], "reason": "Moved to QA"})  # fmt: skip
    assert response.status_code == 302
    assert _user(db, user.username).roles == "qa,supervisor"
    [event] = events(db, "user.roles_changed")
    assert changes(event)["roles"] == ["operator", "qa,supervisor"]
    assert (event.reason, event.actor_id, event.entity_id) == ("Moved to QA", admin_client.admin.id, str(user.id))


@pytest.mark.req("URS-ACC-006", "URS-ACC-012")
def test_reset_password_forces_a_change_so_the_admin_cannot_use_it(admin_client, app, db, make_user):
    user = make_user("qa")
    response = admin_client.post(f"/admin/users/{user.id}/reset-password",
                                 data={"password": TEMP, "reason": "Forgotten password"})  # fmt: skip
    assert response.status_code == 302
    assert _user(db, user.username).must_change_password is True
    [event] = events(db, "user.password_reset")
    assert (event.reason, changes(event)["must_change_password"]) == ("Forgotten password", [False, True])
    assert TEMP not in event.changes
    # Whoever knows the temporary password (the admin) gets only the password-change page.
    other = app.test_client()
    assert log_in(other, user.username, TEMP).status_code == 302
    for path in ("/", "/audit/", "/audit/export.csv"):
        assert other.get(path).headers["Location"] == "/password", path


@pytest.mark.req("URS-ACC-012", "URS-ACC-003")
def test_deactivate_and_reactivate_are_audited_with_reasons(admin_client, db, make_user):
    user = make_user("operator")
    assert admin_client.post(f"/admin/users/{user.id}/deactivate", data={"reason": ""}).status_code == 400
    assert _user(db, user.username).active is True
    assert admin_client.post(f"/admin/users/{user.id}/deactivate", data={"reason": "Left"}).status_code == 302
    assert _user(db, user.username).active is False
    assert "deactivated" in text(admin_client.get(f"/admin/users/{user.id}"))
    assert admin_client.post(f"/admin/users/{user.id}/reactivate", data={"reason": "Back"}).status_code == 302
    assert _user(db, user.username).active is True
    [off] = events(db, "user.deactivated")
    [on] = events(db, "user.reactivated")
    assert (changes(off)["active"], off.reason) == ([True, False], "Left")
    assert (changes(on)["active"], on.reason) == ([False, True], "Back")


@pytest.mark.req("URS-ACC-013")
def test_admin_cannot_deactivate_themselves(admin_client, db):
    admin = admin_client.admin
    response = admin_client.post(f"/admin/users/{admin.id}/deactivate", data={"reason": "Oops"})
    assert response.status_code == 409
    assert "cannot deactivate their own account" in text(response)
    assert _user(db, admin.username).active is True
    assert events(db, "user.deactivated") == []
    [refusal] = events(db, "request.refused")
    assert refusal.actor_id == admin.id
    assert admin_client.get("/admin/users").status_code == 200


@pytest.mark.req("URS-ACC-012", "URS-ACC-002")
def test_only_an_admin_manages_users(db, make_user):
    qa = make_user("qa")
    with pytest.raises(RuleViolation, match="Only an administrator"):
        services.create_user(db, qa, "eve", "Eve E", ["qa"], "initial-secret-1", AccountPolicy())


@pytest.mark.req("URS-ACC-012")
def test_unknown_user_page_is_a_404(admin_client, db):
    response = admin_client.get("/admin/users/999999")
    assert response.status_code == 404
    assert "No such user." in text(response)


@pytest.mark.req("URS-ACC-003")
def test_role_change_ends_the_users_open_session(admin_client, app, db, make_user):
    user = make_user("qa")
    theirs = app.test_client()
    log_in(theirs, user.username)
    assert theirs.get("/audit/").status_code == 200
    admin_client.post(f"/admin/users/{user.id}/roles", data={"roles": ["operator"], "reason": "Rotation"})
    assert is_login_redirect(theirs.get("/audit/"))
