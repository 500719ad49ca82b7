"""A whole XS411-DA-NPC lot, executed through the real services and released: its documents
render with the lot number and "Page x of N" on every page (their speed is measured by
`make bench`, benchmarks/documents_bench.py, never by a test).

Set CELLBATCH_DOCS_OUT=/some/dir to keep the PDFs (to render them with pdftoppm and look).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from app.documents.models import DocumentKind
from app.documents.services.pdfa import pdfa_problems
from tests.batches.conftest import ROOT
from tests.documents.conftest import attachment, build_dispositioned_lot, pdf_text

XS411 = ROOT / "batch_templates/XS411-DA-NPC.v1.yaml"
XS411_SPEC = ROOT / "qc_specs/XS411-DA-NPC.v1.yaml"


@pytest.mark.req("URS-DOC-004", "URS-DOC-003")
@pytest.mark.req("URS-DOC-004", "URS-DOC-003", "URS-DOC-001")
def test_a_released_xs411_lot_renders_every_document_with_headers_on_every_page(db, make_user):
    done = build_dispositioned_lot(db, make_user, template=XS411, spec=XS411_SPEC, correction=None)
    lot = done.lot
    out = os.environ.get("CELLBATCH_DOCS_OUT")
    for kind in (DocumentKind.COA, DocumentKind.BATCH_RECORD, DocumentKind.AUDIT_TRAIL_PDF):
        content = done.documents[kind].content
        if out:
            Path(out, f"{lot.lot_number}_{kind.value}.pdf").write_bytes(content)
        pages = pdf_text(content)
        for number, text in enumerate(pages, start=1):
            assert f"Lot {lot.lot_number}" in text, (kind, number)
            assert re.search(rf"Page {number} of\s+{len(pages)}", text), (kind, number)
        assert pdfa_problems(content) == []
    data = attachment(done.documents[DocumentKind.BATCH_RECORD].content)
    assert len([s for u in data["units"] for s in u["steps"]]) == len(lot.steps) >= 40
    assert len(data["corrections"]) == 1 and data["materials"] and data["equipment"]
