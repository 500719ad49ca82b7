"""Server-console commands: `flask audit verify` and `flask users ...` (11.10(a), Annex 11 §12)."""

from __future__ import annotations

import sqlite3

import pytest
from flask_migrate import upgrade

from app import create_app
from app.audit import capture as audit
from app.audit.capture import Actor
from app.auth import services
from app.auth.models import User
from app.common.db import unit_of_work
from app.extensions import db as _db
from config import TestConfig
from tests.auth.helpers import events, log_in


@pytest.fixture
def file_app(tmp_path):  # type: ignore[no-untyped-def]
    """An app on its own SQLite file: `audit verify` opens its own connection, so it must see
    committed rows, which the suite's rolled-back transaction never has."""
    path = tmp_path / "verify.sqlite3"
    app = create_app(type("FileConfig", (TestConfig,), {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"}))
    with app.app_context():
        upgrade()
        with unit_of_work(_db.session) as session:
            for n in range(5):
                audit.record(session, "test.seeded", Actor.system("tests"), entity_ref=("Thing", str(n)), n=n)
        _db.session.remove()
        _db.engine.dispose()
    app.sqlite_path = path
    yield app
    with app.app_context():
        _db.engine.dispose()


@pytest.mark.req("URS-AUD-006")
def test_audit_verify_reports_an_intact_chain(file_app):
    result = file_app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "OK: 5 audit events verified" in result.output


@pytest.mark.req("URS-AUD-006")
def test_audit_verify_names_an_event_edited_in_the_database(file_app):
    with sqlite3.connect(file_app.sqlite_path) as connection:
        connection.execute("DROP TRIGGER audit_events_no_update")
        connection.execute("UPDATE audit_events SET reason = 'edited behind the app' WHERE id = 3")
    connection.close()
    result = file_app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "BROKEN at audit event 3: content does not match its hash (2 events verified before it)" in result.output


@pytest.mark.req("URS-ACC-014", "URS-ACC-008")
def test_users_unlock_lifts_a_lockout_and_is_audited(app, client, db, make_user):
    user = make_user("operator")
    for _ in range(5):
        log_in(client, user.username, "wrong-password-1")
    assert log_in(client, user.username).status_code == 401
    db.expire_all()  # the command runs in this test's session: forget what it read before the lock
    result = app.test_cli_runner().invoke(args=["users", "unlock", user.username, "--reason", "Helpdesk ticket 7"])
    assert result.exit_code == 0, result.output
    assert f"Unlocked {user.username}." in result.output
    [event] = events(db, "auth.unlocked", changes="{}")
    assert (event.actor_id, event.actor_name, event.reason) == (
        None, "system: flask users (server console)", "Helpdesk ticket 7")
    assert log_in(client, user.username).status_code == 302


@pytest.mark.req("URS-ACC-014", "URS-ACC-004")
def test_users_create_and_deactivate_from_the_console(app, client, db):
    runner = app.test_cli_runner()
    created = runner.invoke(args=["users", "create", "Cora.Cli", "--full-name", "Cora Cli", "--role", "qa",
                                  "--password", "initial-secret-1"])  # fmt: skip
    assert created.exit_code == 0, created.output
    user = db.scalar(_db.select(User).where(User.username == "cora.cli"))
    assert (user.roles, user.must_change_password) == ("qa", True)
    gone = runner.invoke(args=["users", "deactivate", "cora.cli", "--reason", "Left"])
    assert gone.exit_code == 0, gone.output
    db.refresh(user)
    assert user.active is False
    [event] = events(db, "user.deactivated")
    assert (event.actor_name, event.reason) == ("system: flask users (server console)", "Left")
    assert log_in(client, "cora.cli", "initial-secret-1").status_code == 401


@pytest.mark.req("URS-ACC-014")
def test_console_refusals_exit_with_the_reasons(app, db, make_user):
    make_user("qa", username="taken")
    runner = app.test_cli_runner()
    reused = runner.invoke(args=["users", "create", "taken", "--full-name", "T", "--role", "qa",
                                 "--password", "initial-secret-1"])  # fmt: skip
    assert reused.exit_code == 2
    assert "never reused" in reused.output
    combined = runner.invoke(args=["users", "create", "root2", "--full-name", "R", "--role", "admin",
                                   "--role", "qa", "--password", "initial-secret-1"])  # fmt: skip
    assert combined.exit_code == 2
    assert "the admin role cannot be combined with any other role" in combined.output
    weak = runner.invoke(args=["users", "create", "weak", "--full-name", "W", "--role", "qa", "--password", "short"])
    assert weak.exit_code == 2
    assert "at least 12 characters" in weak.output
    unknown = runner.invoke(args=["users", "unlock", "nobody", "--reason", "x"])
    assert (unknown.exit_code, "No user 'nobody'" in unknown.output) == (2, True)
    assert services.find_user(db, "root2") is None and services.find_user(db, "weak") is None
