"""The signing ceremony: re-authentication, policy, roles, separation (11.50, 11.100, 11.200, 11.300)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select

from app.common.db import unit_of_work
from app.common.errors import NotPermitted, RuleViolation
from app.signatures.models import PolicyAcceptance, Signature
from app.signatures.services import Credentials, entity_hash, sign
from tests.auth.helpers import changes, details, events, log_in
from tests.conftest import PASSWORD


def _creds(user, password=PASSWORD, **kw):  # type: ignore[no-untyped-def]
    return Credentials(password=password, username=kw.pop("username", user.username),
                       accept_policy=kw.pop("accept_policy", True), ip="10.1.2.3", **kw)  # fmt: skip


def _sign(db, user, note, meaning="performed", **kw):  # type: ignore[no-untyped-def]
    comment = kw.pop("comment", None)
    with unit_of_work(db):
        return sign(db, user, note, meaning, _creds(user, **kw), comment=comment)


def _count(db, model) -> int:  # type: ignore[no-untyped-def]
    return db.scalar(select(func.count()).select_from(model))


@pytest.mark.req("URS-SIG-004")
def test_a_signature_records_who_what_when_why_and_the_content_hash(db, make_user, make_note):
    user = make_user("operator", full_name="Olivia Okafor")
    note = make_note(lot_id=42)
    with freeze_time("2026-01-15 12:00:00"):
        signature = _sign(db, user, note, comment="  Counted twice  ")
    db.expire_all()
    stored = db.get(Signature, signature.id)
    assert (stored.signer_id, stored.signer_name, stored.signer_username) == (user.id, "Olivia Okafor", user.username)
    assert (stored.meaning, stored.comment, stored.lot_id) == ("performed", "Counted twice", 42)
    assert stored.signed_at == datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    assert (stored.entity_type, stored.entity_id) == ("Note", str(note.id))
    assert stored.content_hash == entity_hash(note)
    assert stored.policy_version == "1"
    [event] = events(db, "signature.performed")
    assert (event.actor_id, event.entity_type, event.entity_id, event.lot_id) == (user.id, "Note", str(note.id), 42)
    assert changes(event) == {"signature": [None, signature.id]}
    assert details(event) == {"comment": "Counted twice", "content_hash": stored.content_hash,
                              "ip": "10.1.2.3", "meaning": "performed"}  # fmt: skip


@pytest.mark.req("URS-SIG-001")
def test_a_wrong_password_signs_nothing_is_audited_and_counts_toward_lockout(db, make_user, make_note):
    user = make_user("operator")
    note = make_note()
    with pytest.raises(RuleViolation, match="password is wrong") as refused:
        _sign(db, user, note, password="not-my-password-1")
    assert refused.value.status == 401
    assert _count(db, Signature) == 0
    assert events(db, "signature.performed") == []
    [event] = events(db, "signature.refused")
    assert (event.actor_id, event.entity_id, details(event)["why"]) == (
        user.id, str(note.id), "The password is wrong; nothing was signed.")
    assert details(events(db, "auth.login_failed")[-1])["ip"] == "10.1.2.3"
    db.refresh(user)
    assert user.failed_attempts == 1


@pytest.mark.req("URS-SIG-001", "URS-ACC-008")
def test_five_wrong_signature_passwords_lock_the_account(client, db, make_user, make_note):
    user = make_user("operator")
    note = make_note()
    for _ in range(5):
        with pytest.raises(RuleViolation):
            _sign(db, user, note, password="not-my-password-1")
    [locked] = events(db, "auth.locked")
    assert locked.entity_id == str(user.id)
    with pytest.raises(RuleViolation, match="inactive or locked"):
        _sign(db, user, note)
    assert _count(db, Signature) == 0
    assert log_in(client, user.username).status_code == 401


@pytest.mark.req("URS-SIG-002")
def test_the_first_signature_needs_the_username(db, make_user, make_note):
    user = make_user("operator")
    other = make_user("operator")
    note = make_note()
    for given in (None, "", other.username):
        with pytest.raises(RuleViolation, match="your own username") as refused:
            _sign(db, user, note, username=given)
        assert refused.value.status == 401
    assert _count(db, Signature) == 0
    assert len(events(db, "signature.refused")) == 3
    assert _sign(db, user, note, username=f"  {user.username.upper()} ").signer_id == user.id
    assert _sign(db, user, note, username=None, username_required=False).signer_id == user.id


@pytest.mark.req("URS-SIG-003")
def test_the_first_signature_records_acceptance_of_the_policy(app, db, make_user, make_note, monkeypatch):
    user = make_user("supervisor")
    note = make_note()
    with pytest.raises(RuleViolation, match="acceptance of the e-signature policy"):
        _sign(db, user, note, accept_policy=False)
    assert (_count(db, Signature), _count(db, PolicyAcceptance)) == (0, 0)
    _sign(db, user, note)
    [acceptance] = db.scalars(select(PolicyAcceptance)).all()
    assert (acceptance.user_id, acceptance.version) == (user.id, "1")
    [event] = events(db, "esig.policy_accepted")
    assert (event.entity_type, event.entity_id, event.actor_id) == ("PolicyAcceptance", str(acceptance.id), user.id)
    _sign(db, user, note, "verified", accept_policy=False)  # not asked again
    assert (_count(db, Signature), _count(db, PolicyAcceptance)) == (2, 1)
    monkeypatch.setitem(app.config, "ESIG_POLICY_VERSION", "2")
    with pytest.raises(RuleViolation, match="version 2"):
        _sign(db, user, note, accept_policy=False)  # a new policy version is accepted anew


@pytest.mark.req("URS-SIG-007")
@pytest.mark.parametrize("role", ["admin", "auditor"])
def test_admins_and_auditors_never_sign(db, make_user, make_note, role):
    user = make_user(role)
    note = make_note()
    with pytest.raises(NotPermitted, match="never sign"):
        _sign(db, user, note, "reviewed")  # even where the record's own rule would let them
    assert _count(db, Signature) == 0
    assert details(events(db, "signature.refused")[0])["meaning"] == "reviewed"


@pytest.mark.req("URS-SIG-007")
def test_a_role_not_allowed_for_the_meaning_is_refused(db, make_user, make_note):
    qa = make_user("qa")
    operator = make_user("operator")
    note = make_note()
    with pytest.raises(NotPermitted, match="needs the role: operator, supervisor"):
        _sign(db, qa, note, "performed")
    with pytest.raises(NotPermitted, match="needs the role: qa"):
        _sign(db, operator, note, "approved")
    assert _count(db, Signature) == 0
    assert len(events(db, "signature.refused")) == 2
    assert _sign(db, qa, note, "approved").meaning == "approved"


@pytest.mark.req("URS-SIG-007", "URS-EXE-009")
def test_the_performer_cannot_verify_their_own_work(db, make_user, make_note):
    performer = make_user("operator")
    verifier = make_user("operator")
    note = make_note(performer=performer)
    _sign(db, performer, note, "performed")
    with pytest.raises(RuleViolation, match="The verifier is never the performer."):
        _sign(db, performer, note, "verified")
    assert details(events(db, "signature.refused")[-1])["why"] == "The verifier is never the performer."
    assert _sign(db, verifier, note, "verified").signer_id == verifier.id


@pytest.mark.req("URS-SIG-007")
def test_an_unknown_meaning_is_refused(db, make_user, make_note):
    user = make_user("operator")
    note = make_note()
    with pytest.raises(RuleViolation, match="Unknown signature meaning 'witnessed'") as refused:
        _sign(db, user, note, "witnessed")
    assert refused.value.status == 400
    assert _count(db, Signature) == 0


@pytest.mark.req("URS-SIG-004", "URS-DAT-002")
def test_a_failed_state_change_leaves_neither_signature_nor_event(db, make_user, make_note):
    user = make_user("operator")
    note = make_note()
    with pytest.raises(RuntimeError, match="state change failed"):
        with unit_of_work(db):
            sign(db, user, note, "performed", _creds(user))
            raise RuntimeError("state change failed")
    assert (_count(db, Signature), _count(db, PolicyAcceptance)) == (0, 0)
    assert events(db, "signature.performed") == []
    assert events(db, "esig.policy_accepted") == []


@pytest.mark.req("URS-SIG-002")
def test_a_new_login_session_asks_for_the_username_again(client, db, make_user):
    user = make_user("operator")
    log_in(client, user.username)
    with client.session_transaction() as session:
        assert session["esig_username_needed"] is True
        session["esig_username_needed"] = False  # as after a first signature (signed_in_session)
    client.post("/logout")
    log_in(client, user.username)
    with client.session_transaction() as session:
        assert session["esig_username_needed"] is True
