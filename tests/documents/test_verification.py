"""The public verification page (issue #8 point 5): genuine, altered by one byte, unknown."""

from __future__ import annotations

import io

import pytest

from app.documents.models import DocumentKind

pytestmark = pytest.mark.req("URS-DOC-006")


pytestmark = pytest.mark.req("URS-DOC-006")


def _upload(client, content: bytes, expected: str = ""):  # type: ignore[no-untyped-def]
    return client.post("/verify", data={"file": (io.BytesIO(content), "coa.pdf"), "sha256": "", "expected": expected},
                       content_type="multipart/form-data")  # fmt: skip


def test_an_uploaded_genuine_document_is_recognised_without_login(client, released):
    coa = released.documents[DocumentKind.COA]
    page = _upload(client, coa.content)
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "This is a genuine, unaltered record" in body
    assert released.lot.lot_number in body and released.lot.product in body and "Certificate of analysis" in body
    assert coa.created_by_name in body and coa.sha256 in body


def test_a_one_byte_change_is_not_a_genuine_record(client, released):
    content = bytearray(released.documents[DocumentKind.COA].content)
    content[len(content) // 2] ^= 0x01
    body = _upload(client, bytes(content)).get_data(as_text=True)
    assert "This is not a genuine record" in body and "genuine, unaltered" not in body
    assert released.lot.lot_number not in body


def test_a_pasted_or_linked_sha256_is_checked(client, released):
    record = released.documents[DocumentKind.BATCH_RECORD]
    pasted = client.post("/verify", data={"sha256": record.sha256.upper()}).get_data(as_text=True)
    assert "genuine, unaltered" in pasted and "Executed batch record" in pasted
    assert "genuine, unaltered" in client.get(f"/verify/{record.sha256}").get_data(as_text=True)
    assert "not a genuine record" in client.get("/verify/" + "0" * 64).get_data(as_text=True)
    bad = client.get("/verify/not-a-hash")
    assert bad.status_code == 400 and "64 hexadecimal" in bad.get_data(as_text=True)
    assert client.post("/verify", data={}).status_code == 400


def test_the_qr_code_page_names_the_document_and_checks_an_upload_against_it(client, released):
    coa, record = released.documents[DocumentKind.COA], released.documents[DocumentKind.BATCH_RECORD]
    page = client.get(f"/verify/doc/{coa.public_id}").get_data(as_text=True)
    assert "The QR code names this document" in page and coa.sha256 in page and released.lot.lot_number in page
    assert "genuine, unaltered" in _upload(client, coa.content, coa.public_id).get_data(as_text=True)
    # A genuine file, but not the one the QR code named: not this record.
    assert "not a genuine record" in _upload(client, record.content, coa.public_id).get_data(as_text=True)
    assert client.get("/verify/doc/00000000-0000-0000-0000-000000000001").status_code == 404


def test_too_large_an_upload_is_refused(client, released, app, monkeypatch):
    monkeypatch.setitem(app.config, "VERIFY_MAX_BYTES", 1024)
    page = _upload(client, released.documents[DocumentKind.COA].content)
    assert page.status_code == 413 and "larger than" in page.get_data(as_text=True)
