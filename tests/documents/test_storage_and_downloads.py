"""Documents are rendered once and served byte for byte; the table is append-only; every
download and export is an audit event; a regeneration is a new document with a reason."""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from app.audit.capture import Actor
from app.audit.models import AuditEvent
from app.batches.models import Lot, LotStatus
from app.common.canonical import sha256_hex
from app.common.errors import RuleViolation
from app.documents import services
from app.documents.models import Document, DocumentKind
from app.documents.services import generate, store
from app.release.models import Disposition
from tests.documents.conftest import build_dispositioned_lot, pdf_text


def _events(db, action: str, document: Document) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    return list(db.scalars(select(AuditEvent).where(AuditEvent.action == action, AuditEvent.entity_type == "Document",
                                                    AuditEvent.entity_id == str(document.id))))  # fmt: skip


@pytest.mark.req("URS-DOC-001", "URS-DOC-008")
@pytest.mark.req("URS-DOC-001", "URS-DOC-008")
def test_downloading_twice_gives_identical_bytes_and_two_events(db, released, make_user, login):
    client = login(make_user("auditor"))
    coa = released.documents[DocumentKind.COA]
    first, second = (client.get(f"/documents/{coa.id}/download") for _ in range(2))
    assert first.status_code == second.status_code == 200
    assert first.data == second.data == coa.content
    assert first.headers["ETag"] == f'"{coa.sha256}"' and first.mimetype == "application/pdf"
    assert first.headers["Content-Disposition"] == f'attachment; filename="{coa.filename}"'
    downloads = _events(db, "document.downloaded", coa)
    assert len(downloads) == 2 and all(json.loads(e.details)["sha256"] == coa.sha256 for e in downloads)
    assert {e.lot_id for e in downloads} == {released.lot.id}


@pytest.mark.req("URS-DOC-001", "URS-DOC-008")
def test_a_download_streams_the_stored_bytes_piece_by_piece(db, released, make_user, login, monkeypatch):
    monkeypatch.setattr(store, "DOWNLOAD_CHUNK", 4096)  # many pieces, and a short last one
    record = released.documents[DocumentKind.BATCH_RECORD]
    assert record.size % 4096 and record.size > 3 * 4096
    response = login(make_user("auditor")).get(f"/documents/{record.id}/download")
    assert response.status_code == 200
    assert [len(piece) for piece in store.content_chunks(db, record.id, record.size)][-2:] == [4096, record.size % 4096]
    assert response.data == record.content and sha256_hex(response.data) == response.headers["X-Content-SHA256"]
    assert int(response.headers["Content-Length"]) == record.size


@pytest.mark.req("URS-DOC-007")
@pytest.mark.req("URS-DOC-007", "URS-DAT-001")
@pytest.mark.parametrize("statement", ["UPDATE documents SET filename = 'x.pdf'", "DELETE FROM documents"])
def test_the_documents_table_refuses_update_and_delete(db, released, statement):
    with pytest.raises(DBAPIError, match="append-only"):
        with db.begin_nested():
            db.execute(text(statement))
    coa = released.documents[DocumentKind.COA]
    db.expire_all()
    assert sha256_hex(db.get(Document, coa.id).content) == coa.sha256


@pytest.mark.req("URS-DOC-008")
@pytest.mark.req("URS-DOC-008", "URS-DOC-002")
def test_an_auditor_exports_the_audit_trail_as_new_stored_documents(db, released, make_user, login):
    auditor = make_user("auditor")
    client = login(auditor)
    lot = released.lot
    csv = client.post(f"/documents/lots/{lot.id}/audit-trail.csv")
    pdf = client.post(f"/documents/lots/{lot.id}/audit-trail.pdf")
    assert csv.status_code == pdf.status_code == 200
    assert csv.mimetype == "text/csv" and csv.data.decode().startswith("id,occurred_at_utc,")
    assert "release.released" in csv.data.decode()
    pages = pdf_text(pdf.data)
    assert "Audit trail report" in pages[0] and f"Lot {lot.lot_number}" in pages[0] and "Page 1 of" in pages[0]
    stored: dict = {}
    for document in services.lot_documents(db, lot.id):  # newest first
        stored.setdefault(document.kind, document)
    assert stored[DocumentKind.AUDIT_TRAIL_CSV].sha256 == sha256_hex(csv.data)
    assert stored[DocumentKind.AUDIT_TRAIL_PDF].sha256 == sha256_hex(pdf.data)
    exported = db.scalars(select(AuditEvent).where(AuditEvent.action == "audit.exported",
                                                   AuditEvent.actor_id == auditor.id)).all()  # fmt: skip
    assert sorted(json.loads(e.details)["format"] for e in exported) == ["csv", "pdf"]
    for kind in (DocumentKind.AUDIT_TRAIL_CSV, DocumentKind.AUDIT_TRAIL_PDF):
        assert len(_events(db, "document.downloaded", stored[kind])) == 1


@pytest.mark.req("URS-DOC-007")
@pytest.mark.req("URS-DOC-007")
def test_qa_regenerates_with_a_reason_and_never_overwrites(db, released, make_user):
    coa = released.documents[DocumentKind.COA]
    qa = make_user("qa")
    with pytest.raises(RuleViolation, match="reason"):
        services.regenerate(db, qa, coa, "  ")
    new = services.regenerate(db, qa, coa, "Template typo fixed in the CoA footer")
    db.commit()
    assert new.supersedes_id == coa.id and new.reason == "Template typo fixed in the CoA footer"
    assert new.sha256 != coa.sha256 and db.get(Document, coa.id).sha256 == sha256_hex(coa.content)
    assert "Supersedes document " + coa.public_id in " ".join(" ".join(pdf_text(new.content)).split())
    assert services.successors(db, released.lot.id) == {coa.id: new}
    with pytest.raises(RuleViolation, match="already superseded"):
        services.regenerate(db, qa, coa, "again")
    with pytest.raises(RuleViolation):
        services.regenerate(db, make_user("auditor"), new, "not QA")


@pytest.mark.req("URS-REL-005", "URS-DAT-002")
def test_a_rendering_failure_keeps_the_decision_and_leaves_the_documents_pending(db, make_user, monkeypatch):
    original = generate.render_pdf

    def broken(template, data):  # type: ignore[no-untyped-def]
        raise RuntimeError("renderer unavailable")

    monkeypatch.setattr(generate, "render_pdf", broken)
    done = build_dispositioned_lot(db, make_user)
    lot = db.get(Lot, done.lot.id)
    assert lot.status == LotStatus.RELEASED
    assert db.scalar(select(Disposition.decision).where(Disposition.lot_id == lot.id)) == "released"
    assert done.documents == {}
    assert services.pending_kinds(db, lot) == list(services.DISPOSITION_KINDS)
    assert lot.id in services.lots_with_pending(db)

    monkeypatch.setattr(generate, "render_pdf", original)
    stored = services.render_pending(db, lot.id, Actor.system("tests"))
    assert sorted(d.kind for d in stored) == sorted(services.DISPOSITION_KINDS)
    assert services.pending_kinds(db, lot) == [] and lot.id not in services.lots_with_pending(db)
    assert services.render_pending(db, lot.id, Actor.system("tests")) == []  # never twice
    generated = db.scalars(select(AuditEvent).where(AuditEvent.action == "document.generated",
                                                    AuditEvent.lot_id == lot.id)).all()  # fmt: skip
    assert len(generated) == 3 and {e.actor_name for e in generated} == {"system: tests"}


@pytest.mark.req("URS-REL-005")
def test_the_documents_render_after_the_decision_committed_outside_its_transaction(db, make_user, monkeypatch):
    seen = []
    original = generate.render_pdf

    def spy(template, data):  # type: ignore[no-untyped-def]
        # The decision is already committed (a savepoint here) and no transaction is open.
        seen.append((db().in_transaction(), db.scalar(select(Disposition.decision))))
        db.rollback()  # end the read this spy made, so the next rendering is checked alike
        return original(template, data)

    monkeypatch.setattr(generate, "render_pdf", spy)
    done = build_dispositioned_lot(db, make_user)
    assert seen == [(False, "released")] * 3
    assert set(done.documents) == set(services.DISPOSITION_KINDS)


@pytest.mark.req("URS-REL-005")
def test_qa_renders_pending_documents_from_the_documents_page(db, make_user, login, monkeypatch):
    original = generate.render_pdf
    monkeypatch.setattr(generate, "render_pdf", lambda template, data: (_ for _ in ()).throw(OSError("no fonts")))
    done = build_dispositioned_lot(db, make_user)
    page = f"/documents/lots/{done.lot.id}"
    client = login(done.people["qa"])
    body = client.get(page).get_data(as_text=True)
    assert "Disposition documents pending" in body and "Certificate of analysis" in body
    assert "Render them now" in body
    monkeypatch.setattr(generate, "render_pdf", original)
    response = client.post(f"{page}/render-pending", follow_redirects=True)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "Disposition documents pending" not in body
    assert body.count("Download") >= 3
    assert services.pending_kinds(db, db.get(Lot, done.lot.id)) == []
    again = client.post(f"{page}/render-pending", follow_redirects=True).get_data(as_text=True)
    assert "has no disposition document waiting to be rendered" in again


@pytest.mark.req("URS-REL-005")
def test_flask_documents_render_pending_renders_what_failed(app, db, make_user, monkeypatch):
    original = generate.render_pdf
    monkeypatch.setattr(generate, "render_pdf", lambda template, data: (_ for _ in ()).throw(OSError("no fonts")))
    done = build_dispositioned_lot(db, make_user)
    monkeypatch.setattr(generate, "render_pdf", original)
    result = app.test_cli_runner().invoke(args=["documents", "render-pending"])
    assert result.exit_code == 0, result.output
    assert "1 lot(s) had pending documents." in result.output and done.lot.lot_number in result.output
    assert services.pending_kinds(db, db.get(Lot, done.lot.id)) == []


@pytest.mark.req("URS-DOC-001")
@pytest.mark.req("URS-DOC-008")
def test_the_download_of_an_unknown_document_is_404(client, make_user, login):
    assert login(make_user("qa")).get("/documents/999999/download").status_code == 404


@pytest.mark.req("URS-DOC-001")
@pytest.mark.req("URS-DOC-008")
def test_content_is_not_loaded_for_lists(db, released):
    listed = services.lot_documents(db, released.lot.id)
    assert all("content" not in d.__dict__ for d in listed)
    assert io.BytesIO(services.get_document(db, listed[0].id, with_content=True).content).read(5) == b"%PDF-"
