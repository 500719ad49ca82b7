"""Tamper detection end to end (issue #11 point 6; 21 CFR 11.10(a), (e)).

A lot is executed, corrected, tested, reviewed and released through the real services (its
documents rendered by the disposition hook); a copy of that database is then edited directly
with SQL, the append-only triggers dropped first, as a DBA could. `flask audit verify` must exit
1 and name the record and the field that changed. The copies are SQLite files; on PostgreSQL
one more test makes the same edits in a database of its own.
"""

from __future__ import annotations

import hashlib

import pytest

from tests.hardening.conftest import Golden, Site, cheap_documents, released_lot_site

pytestmark = pytest.mark.req("URS-AUD-006", "URS-AUD-007")


@pytest.fixture
def site(golden: Golden) -> Site:
    return golden.copy()


def _refused(site: Site) -> str:
    result = site.flask("audit", "verify")
    assert result.exit_code == 1, result.output
    return result.output


def test_the_untouched_copy_verifies(site, golden):
    result = site.flask("audit", "verify")
    assert result.exit_code == 0, result.output
    assert "Records OK: every record, signature and document matches its audit trail." in result.output
    assert len(golden.ids["documents"]) == 3


def test_edited_document_bytes_are_named(site, golden):
    doc_id = golden.ids["documents"]["coa"]
    site.drop_triggers("documents")
    site.run("UPDATE documents SET content = :c WHERE id = :i", c=b"%PDF-1.7 forged certificate", i=doc_id)
    output = _refused(site)
    assert f"Document {doc_id}: content is 'sha256:{hashlib.sha256(b'%PDF-1.7 forged certificate').hexdigest()}'" \
        in output  # fmt: skip
    assert f"Document {doc_id}: size" in output


def test_bytes_and_hash_edited_together_are_still_named(site, golden):
    """Forging the row's sha256 to match new bytes does not help: the chained event keeps the original."""
    doc_id = golden.ids["documents"]["batch_record"]
    forged = b"%PDF-1.7 a batch record that never was"
    site.drop_triggers("documents")
    site.run("UPDATE documents SET content = :c, sha256 = :h, size = :n WHERE id = :i",
             c=forged, h=hashlib.sha256(forged).hexdigest(), n=len(forged), i=doc_id)  # fmt: skip
    output = _refused(site)
    assert f"Document {doc_id}: content" in output and f"Document {doc_id}: sha256" in output


def test_an_edited_audit_event_breaks_the_chain_at_that_event(site):
    event_id = site.scalar("SELECT min(id) FROM audit_events WHERE action = 'signature.released'")
    site.drop_triggers("audit_events")
    site.run("UPDATE audit_events SET actor_name = 'Someone Else (qa.other)' WHERE id = :i", i=event_id)
    output = _refused(site)
    assert f"BROKEN at audit event {event_id}: content does not match its hash" in output


def test_a_deleted_tail_of_the_trail_is_found_by_the_replay(site):
    """Cutting the newest events leaves a valid but shorter chain: the records they created show."""
    last = site.scalar("SELECT max(id) FROM audit_events")
    site.drop_triggers("audit_events")
    site.run("DELETE FROM audit_events WHERE id = :i", i=last)
    output = _refused(site)
    assert "present without audit event" in output or "no such event" in output, output


def test_an_edited_signed_entry_is_named(site, golden):
    entry_id = golden.ids["corrected_entry"]
    site.drop_triggers("entries")
    site.run("UPDATE entries SET value_text = '42.0' WHERE id = :i", i=entry_id)
    assert f"Entry {entry_id}: value_text is '42.0' in the table" in _refused(site)


@pytest.mark.parametrize(("column", "value", "named"), [
    ("content_hash", "0" * 64, "content_hash"),
    ("signer_name", "Somebody Else", "printed_name"),
    ("comment", "Approved after all", "comment"),
    ("signed_at", "2020-01-01 00:00:00", "signed_at"),
])  # fmt: skip
def test_an_edited_signature_is_named(site, column, value, named):
    signature_id = site.scalar("SELECT id FROM signatures WHERE meaning = 'released'")
    site.drop_triggers("signatures")
    site.run(f"UPDATE signatures SET {column} = :v WHERE id = :i", v=value, i=signature_id)  # noqa: S608
    assert f"Signature {signature_id}: {named} is" in _refused(site)


@pytest.mark.postgres
def test_on_postgresql_every_edit_is_named_then_an_event_edit_breaks_the_chain(pg_databases):
    site, released = released_lot_site(pg_databases.url(pg_databases.create("tamper")))
    try:
        assert site.flask("audit", "verify").exit_code == 0
        coa = released.documents[next(k for k in released.documents if k.value == "coa")].id
        entry = released.corrected.id
        signature = site.scalar("SELECT id FROM signatures WHERE meaning = 'released'")
        for table in ("documents", "entries", "signatures", "audit_events"):
            site.drop_triggers(table)
        site.run("UPDATE documents SET content = :c WHERE id = :i", c=b"%PDF forged", i=coa)
        site.run("UPDATE entries SET value_text = '42.0' WHERE id = :i", i=entry)
        site.run("UPDATE signatures SET signer_name = 'Somebody Else' WHERE id = :i", i=signature)
        output = _refused(site)
        for named in (f"Document {coa}: content", f"Entry {entry}: value_text", f"Signature {signature}: printed_name"):
            assert named in output, output
        event = site.scalar("SELECT min(id) FROM audit_events WHERE action = 'signature.released'")
        site.run("UPDATE audit_events SET reason = 'edited' WHERE id = :i", i=event)
        assert f"BROKEN at audit event {event}: content does not match its hash" in _refused(site)
    finally:
        site.close()


def test_a_refused_release_signature_is_not_taken_for_tampering(db, make_user):
    """A wrong password at release is recorded against the disposition being created, which the
    rollback removes: the replay must not report that never-stored record as deleted."""
    from app.audit.integrity import check_all
    from app.common.db import unit_of_work
    from app.common.errors import RuleViolation
    from app.extensions import db as _db
    from app.release import services as release
    from app.signatures.integrity import check_signatures
    from app.signatures.services import Credentials
    from tests.auth.helpers import events
    from tests.qc.conftest import build_lab, creds

    lab = build_lab(db, make_user)
    lot = lab.lot()
    lab.pass_qc(lot)
    release.start_review(db, lab.qa1, lot)
    release.sign_review(db, lab.qa1, lot, creds(lab.qa1))
    db.commit()
    with cheap_documents(), pytest.raises(RuleViolation, match="password is wrong"), unit_of_work(db):
        release.release(db, lab.qa2, lot, Credentials("wrong-password-1", lab.qa2.username, True, True))
    [refused] = events(db, "signature.refused")
    assert refused.entity_type == "Disposition"
    assert check_all(db.connection(), _db.Model) == [] and check_signatures(db.connection()) == []
