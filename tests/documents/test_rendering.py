"""What the certificate of analysis and the executed batch record say, and how they are built
(issue #8 points 1, 2, 4, 7): their text, the JSON attachment, the PDF/A-3b claim, fonts."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.common import isbt128
from app.common.canonical import canonical_json, sha256_hex
from app.common.timeutil import format_site
from app.documents.models import Document, DocumentKind
from app.documents.services import generate
from app.documents.services.common import show_time
from app.documents.services.generate import DISPOSITION_KINDS
from app.documents.services.pdf import html_for
from app.documents.services.pdfa import pdfa_problems, xmp_fields
from app.qc.models import QCResult
from app.release.models import Disposition
from app.signatures.models import Signature
from tests.documents.conftest import attachment, build_dispositioned_lot, pdf_text


def _text(document: Document) -> str:
    return "\n".join(pdf_text(document.content))


@pytest.mark.req("URS-DOC-001")
@pytest.mark.req("URS-DOC-001")
def test_the_disposition_stores_a_coa_and_a_batch_record_once(db, released):
    docs = db.scalars(select(Document).where(Document.lot_id == released.lot.id)).all()
    assert sorted(d.kind for d in docs) == sorted(DISPOSITION_KINDS)
    for doc in docs:
        assert doc.sha256 == sha256_hex(doc.content) and doc.size == len(doc.content)
        assert doc.mime == "application/pdf" and doc.filename.startswith(released.lot.lot_number)
        assert doc.created_by_id == released.people["qa"].id and not doc.pades_signed
    generated = db.scalars(select(AuditEvent).where(AuditEvent.action == "document.generated",
                                                    AuditEvent.lot_id == released.lot.id)).all()  # fmt: skip
    assert sorted(json.loads(e.details)["sha256"] for e in generated) == sorted(d.sha256 for d in docs)


@pytest.mark.req("URS-DOC-005", "URS-DOC-004", "URS-SIG-005", "URS-EXE-015")
def test_the_coa_shows_every_test_the_disposition_and_the_qa_signature(db, released):
    lot, coa = released.lot, released.documents[DocumentKind.COA]
    pages = pdf_text(coa.content)
    text = " ".join(" ".join(pages).split())
    assert f"Lot {lot.lot_number}" in text and lot.product in text
    assert "SHORT-TEST v1.1" in text and "SHORT-TEST-DP v1.1" in text
    assert "Date of manufacture" in text and "Expiry date" in text
    din = lot.isbt128_din
    shown_din = f"DIN {isbt128.eye_readable(din)} check character {isbt128.check_character(din)}"
    assert f"{shown_din} · product code S9999V00" in text
    for result in db.scalars(select(QCResult).where(QCResult.lot_id == lot.id)):
        test = result.test
        for shown in (test.name, test.method, test.acceptance_text or test.limit_text(), result.result_text):
            assert " ".join(shown.split()) in text, shown
    assert text.count("Conforms") >= 3
    assert f"Lot {lot.lot_number} is RELEASED" in text
    disposition = db.scalar(select(Disposition).where(Disposition.lot_id == lot.id))
    sig = db.scalar(select(Signature).where(Signature.entity_type == "Disposition",
                                            Signature.entity_id == str(disposition.id)))  # fmt: skip
    qa = released.people["qa"]
    assert f"RELEASED by {qa.full_name} ({qa.username}) on {format_site(sig.signed_at)}" in text
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (CET|CEST)", format_site(sig.signed_at))
    for number, page in enumerate(pages, start=1):
        assert f"Lot {lot.lot_number}" in page and re.search(rf"Page {number} of\s+{len(pages)}", page)


@pytest.mark.req("URS-DOC-003", "URS-DOC-004")
@pytest.mark.req("URS-DOC-003")
def test_the_batch_record_shows_corrections_materials_equipment_deviations(db, released):
    text = " ".join(_text(released.documents[DocumentKind.BATCH_RECORD]).split())
    corrected, op1 = released.corrected, released.people["op1"]
    assert "Corrections (1)" in text
    assert f"100.0 10^6 cells {op1.full_name}" in text  # the old value, who entered it
    assert "99.5 10^6 cells" in text  # the new value
    assert f"{op1.full_name} ({op1.username}) {format_site(corrected.entered_at)}" in text  # who, when
    assert "Transcription error: counter printout reads 99.5" in text  # why
    for code in ("MED-001", "VIAL-001", "BSC-01", "CNT-01"):
        assert code in text
    assert "Label printer jammed" in text and "Worn print head" in text and "DEV-" in text
    assert "PERFORMED by" in text and "VERIFIED by" in text and "INVALIDATED by entry.corrected" in text
    assert "Hold time after UP1.OP1.S2: ≤ 60 min" in text and "within" in text
    assert "Page 1 of" in text


@pytest.mark.req("URS-DOC-003")
def test_the_batch_record_shows_every_entry_who_when_and_its_correction(released):
    content = released.documents[DocumentKind.BATCH_RECORD].content
    text = " ".join(_text(released.documents[DocumentKind.BATCH_RECORD]).split())
    data = attachment(content)
    entries = [e for u in data["units"] for s in u["steps"] for e in s["entries"]]
    for e in entries:  # the input's name and the entry's id, who entered it and when
        assert f"{e['input']} #{e['id']}" in text, e
        assert f"{e['entered_by']} · {show_time(e['entered_at'])}" in text, e
    old = next(e for e in entries if not e["current"])
    new = next(e for e in entries if e["corrects"] == old["id"])
    assert f"superseded by #{new['id']}" in text
    assert f"corrects #{old['id']}: “{new['correction_reason']}”" in text
    html = html_for("documents/batch_record.html", data)
    assert f"<s>{old['value']}</s>" in html  # the superseded value, struck through in its entry row


@pytest.mark.req("URS-DOC-002")
def test_the_json_attachment_is_the_data_printed(db, make_user, monkeypatch):
    captured = {}
    original = generate.render_pdf

    def spy(template, data):  # type: ignore[no-untyped-def]
        captured[data["document"]["kind"]] = data
        return original(template, data)

    monkeypatch.setattr(generate, "render_pdf", spy)
    done = build_dispositioned_lot(db, make_user)
    for kind in (DocumentKind.COA, DocumentKind.BATCH_RECORD):
        data = attachment(done.documents[kind].content)
        assert data == json.loads(canonical_json(captured[kind.value]))
        assert data["document"]["id"] == done.documents[kind].public_id
        assert data["lot"]["lot_number"] == done.lot.lot_number
    coa = attachment(done.documents[DocumentKind.COA].content)
    results = {r.test_code: r.result_text for r in db.scalars(select(QCResult).where(QCResult.lot_id == done.lot.id))}
    assert {t["code"]: t["result"] for t in coa["tests"] if t["result"]} == results
    assert coa["disposition"]["signatures"][0]["printed_name"] == done.people["qa"].full_name
    record = attachment(done.documents[DocumentKind.BATCH_RECORD].content)
    assert record["corrections"][0]["new_value"] == "99.5" and record["corrections"][0]["old_value"] == "100.0"


@pytest.mark.req("URS-DOC-001")
@pytest.mark.req("URS-DOC-001")
def test_the_pdfs_claim_pdfa_3b_with_embedded_fonts(released):
    for doc in released.documents.values():
        reader = PdfReader(io.BytesIO(doc.content))
        fields = xmp_fields(reader)
        assert (fields["pdfaid:part"], fields["pdfaid:conformance"]) == ("3", "B")
        assert pdfa_problems(doc.content) == []


@pytest.mark.req("URS-DOC-001")
@pytest.mark.req("URS-DOC-001")
@pytest.mark.skipif(shutil.which("pdffonts") is None, reason="pdffonts (poppler-utils) is not installed")
def test_pdffonts_reports_every_font_embedded(released, tmp_path):
    path = tmp_path / "coa.pdf"
    path.write_bytes(released.documents[DocumentKind.COA].content)
    pdffonts = shutil.which("pdffonts") or "pdffonts"
    run = subprocess.run([pdffonts, str(path)], capture_output=True, text=True, check=True)  # noqa: S603
    lines = run.stdout.splitlines()[2:]
    assert lines and all(line.split()[-5] == "yes" for line in lines), lines  # the "emb" column


@pytest.mark.req("URS-DOC-005")
@pytest.mark.req("URS-DOC-005", "URS-REL-003")
def test_a_rejected_lot_gets_a_coa_saying_so(db, make_user):
    done = build_dispositioned_lot(db, make_user, decision="reject")
    text = " ".join(_text(done.documents[DocumentKind.COA]).split())
    assert f"Quality Assurance REJECTED lot {done.lot.lot_number}" in text
    assert "Viability trend outside the validated range" in text and "must not be used" in text
    assert f"REJECTED by {done.people['qa'].full_name}" in text
