"""PAdES signatures with the site's key, when one is configured (issue #8 point 4)."""

from __future__ import annotations

import io

import pytest
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from app.documents.models import DocumentKind
from app.documents.services.pdfa import pdfa_problems
from app.documents.services.signing import make_dev_key
from tests.documents.conftest import attachment, build_dispositioned_lot

pytestmark = pytest.mark.req("URS-DOC-009")


def test_documents_are_pades_signed_and_validate_against_the_dev_certificate(db, make_user, app, monkeypatch, tmp_path):
    key, cert, created = make_dev_key(tmp_path / "signing", "Test site")
    assert created and make_dev_key(tmp_path / "signing", "Test site")[2] is False  # kept, not replaced
    monkeypatch.setitem(app.config, "SIGNING_KEY", str(key))
    monkeypatch.setitem(app.config, "SIGNING_CERT", str(cert))
    done = build_dispositioned_lot(db, make_user)
    # The key's first signature sizes its space by pyHanko's dry run, the later ones reuse that size.
    for kind in (DocumentKind.COA, DocumentKind.BATCH_RECORD, DocumentKind.AUDIT_TRAIL_PDF):
        document = done.documents[kind]
        assert document.pades_signed
        reader = PdfFileReader(io.BytesIO(document.content))
        status = validate_pdf_signature(reader.embedded_signatures[0],
                                        ValidationContext(trust_roots=[load_cert_from_pemder(str(cert))]))  # fmt: skip
        assert status.bottom_line and status.intact and status.valid and status.trusted
        assert status.coverage.name == "ENTIRE_FILE"
        # Still PDF/A-3b after signing: Info and XMP Producer agree, the attachment survives.
        assert pdfa_problems(document.content) == []
        assert attachment(document.content)["lot"]["lot_number"] == done.lot.lot_number
