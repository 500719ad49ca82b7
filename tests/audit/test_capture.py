"""Every change of GMP data is in the trail, with who, when, what, old and new (11.10(e))."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from freezegun import freeze_time
from sqlalchemy import delete, insert, select, update

from app.audit import capture as audit
from app.audit.capture import Actor, ReasonRequired, UnauditedChange
from app.auth import services
from app.auth.models import User
from app.auth.policy import AccountPolicy
from app.common.canonical import sha256_hex
from app.common.errors import RuleViolation
from app.signatures.models import PolicyAcceptance
from tests.auth.helpers import changes, details, events
from tests.signatures.conftest import Note

pytestmark = pytest.mark.req("URS-AUD-001")


@pytest.fixture
def admin(make_user):  # type: ignore[no-untyped-def]
    return make_user("admin", username="ada", full_name="Ada Admin")


def test_insert_records_actor_utc_time_entity_and_new_values(db, admin):
    with freeze_time("2026-02-03 04:05:06.789"):
        user = services.create_user(db, admin, "bob", "Bob Builder", ["operator"], "initial-secret-1",
                                    AccountPolicy())  # fmt: skip
        db.commit()
    [event] = events(db, "user.created", entity_id=str(user.id))
    assert (event.actor_id, event.actor_name) == (admin.id, "Ada Admin (ada)")
    assert event.occurred_at == datetime(2026, 2, 3, 4, 5, 6, 789000, tzinfo=UTC)
    assert (event.entity_type, event.lot_id, event.reason) == ("User", None, None)
    new = changes(event)
    assert new["username"] == [None, "bob"]
    assert new["full_name"] == [None, "Bob Builder"]
    assert new["roles"] == [None, "operator"]
    assert new["created_at"] == [None, "2026-02-03T04:05:06.789000Z"]
    assert new["password_hash"] == [None, "(secret changed)"]
    assert "failed_attempts" not in new  # recorded by explicit login events instead
    assert details(event)["change"] == "created"


@pytest.mark.req("URS-AUD-003")
def test_update_records_old_and_new_values_and_the_reason(db, admin, make_user):
    user = make_user("operator", full_name="Carl Old")
    with audit.action(db, "user.renamed", Actor.of(admin), reason="Married; HR ticket 42"):
        user.full_name = "Carl New"
    db.commit()
    [event] = events(db, "user.renamed")
    assert changes(event) == {"full_name": ["Carl Old", "Carl New"]}
    assert (event.reason, event.actor_id, event.entity_id) == ("Married; HR ticket 42", admin.id, str(user.id))
    assert details(event) == {"change": "changed"}


@pytest.mark.req("URS-SIG-003")
def test_policy_acceptance_insert_is_audited(db, make_user):
    user = make_user("qa")
    with freeze_time("2026-05-06 07:08:09"):
        with audit.action(db, "esig.policy_accepted", Actor.of(user), version="9"):
            acceptance = PolicyAcceptance(user_id=user.id, version="9", text_hash=sha256_hex("policy"))
            db.add(acceptance)
    [event] = events(db, "esig.policy_accepted")
    assert (event.entity_type, event.entity_id, event.actor_id) == ("PolicyAcceptance", str(acceptance.id), user.id)
    assert changes(event) == {
        "id": [None, acceptance.id], "user_id": [None, user.id], "version": [None, "9"],
        "text_hash": [None, sha256_hex("policy")], "accepted_at": [None, "2026-05-06T07:08:09Z"],
    }  # fmt: skip
    assert details(event) == {"change": "created", "version": "9"}


@pytest.mark.req("URS-DAT-001")
def test_delete_is_refused_for_gmp_records(db, admin, make_user):
    user = make_user("operator")
    with pytest.raises(RuleViolation, match="never deleted"):
        with audit.action(db, "user.deleted", Actor.of(admin), reason="cleanup"):
            db.delete(user)
    db.rollback()
    assert db.get(User, user.id) is not None


@pytest.mark.req("URS-DAT-001")
def test_delete_of_a_deletable_record_keeps_the_old_values(db, monkeypatch):
    monkeypatch.setattr(Note, "__audit_deletable__", True)  # GMP models are never deletable
    Note.__table__.create(db.connection())  # a test-only table, inside the rolled-back transaction
    note = Note(text="Delete me", lot_id=11)
    with audit.action(db, "note.created", Actor.system("tests")):
        db.add(note)
    db.commit()
    with pytest.raises(ReasonRequired):
        with audit.action(db, "note.deleted", Actor.system("tests")):
            db.delete(note)
    db.rollback()
    with audit.action(db, "note.deleted", Actor.system("tests"), reason="entered on the wrong lot"):
        db.delete(note)
    [event] = events(db, "note.deleted")
    assert changes(event)["text"] == ["Delete me", None]
    assert (event.reason, event.lot_id, details(event)["change"]) == ("entered on the wrong lot", 11, "deleted")


@pytest.mark.req("URS-AUD-002")
def test_a_flush_outside_an_action_is_refused(db, make_user):
    user = make_user("operator", full_name="Dana Before")
    before = len(events(db))
    user.full_name = "Dana Sneaky"
    with pytest.raises(UnauditedChange, match="User"):
        db.flush()
    db.rollback()
    assert db.get(User, user.id).full_name == "Dana Before"
    assert len(events(db)) == before
    db.add(PolicyAcceptance(user_id=user.id, version="1", text_hash="ab" * 32))
    with pytest.raises(UnauditedChange, match="PolicyAcceptance"):
        db.flush()
    db.rollback()


@pytest.mark.req("URS-AUD-003")
def test_changing_a_saved_record_needs_a_reason_and_writes_nothing_without_one(db, admin, make_user):
    user = make_user("operator", full_name="Eve Before")
    before = len(events(db))
    with pytest.raises(ReasonRequired, match="User"):
        with audit.action(db, "user.renamed", Actor.of(admin), reason="   "):
            user.full_name = "Eve After"
    db.rollback()
    assert db.get(User, user.id).full_name == "Eve Before"
    assert len(events(db)) == before


@pytest.mark.req("URS-AUD-003")
def test_workflow_fields_change_without_a_reason(db, admin, make_user):
    user = make_user("operator")
    services.reset_password(db, admin, user, "temporary-secret-77", "", AccountPolicy())
    [event] = events(db, "user.password_reset")
    assert event.reason is None
    assert set(changes(event)) == {"password_hash", "password_changed_at", "must_change_password",
                                   "session_token"}  # fmt: skip


@pytest.mark.req("URS-AUD-002")
@pytest.mark.parametrize("statement", [
    lambda: update(User).values(full_name="Bulk"),
    lambda: update(User).where(User.id > 0).values(active=False),
    lambda: delete(User),
    lambda: update(User.__table__).values(full_name="Core via the session"),
    lambda: insert(User).values(username="bulk", full_name="Bulk", roles="qa", password_hash="x",
                                session_token="t" * 32),  # fmt: skip
])  # fmt: skip
def test_bulk_writes_through_the_session_are_refused(db, admin, make_user, statement):
    make_user("operator", full_name="Fay Before")
    with pytest.raises(UnauditedChange, match="bypasses the audit"):
        with audit.action(db, "user.bulk", Actor.of(admin), reason="even with a reason"):
            db.execute(statement())
    db.rollback()
    assert sorted(db.scalars(select(User.full_name))) == ["Ada Admin", "Fay Before"]


@pytest.mark.req("URS-AUD-002")
def test_reading_through_the_session_is_not_refused(db, make_user):
    make_user("operator")
    assert db.execute(select(User.username)).all()
