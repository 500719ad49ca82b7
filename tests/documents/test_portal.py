"""The auditor portal (issue #8 point 6): every lot, read-only, searchable; documents listed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.common.timeutil import site_today
from app.documents.models import DocumentKind

pytestmark = pytest.mark.req("URS-DOC-008")


pytestmark = pytest.mark.req("URS-DOC-008")


def test_an_auditor_finds_lots_by_number_product_status_and_dates(db, released, make_user, login):
    client = login(make_user("auditor"))
    lot = released.lot
    today = site_today()
    found = [
        f"/documents/?number={lot.lot_number[-4:].lower()}",
        f"/documents/?product={lot.product}",
        "/documents/?status=released",
        f"/documents/?started_from={today - timedelta(days=1)}&started_to={today + timedelta(days=1)}",
    ]
    for url in found:
        page = client.get(url)
        body = page.get_data(as_text=True)
        assert page.status_code == 200 and lot.lot_number in body, url
        assert f"/lots/{lot.id}" in body and f"/audit/?lot_id={lot.id}" in body and f"/documents/lots/{lot.id}" in body
    for url in ("/documents/?status=in_progress", "/documents/?number=NOPE",
                f"/documents/?started_from={today + timedelta(days=2)}"):  # fmt: skip
        assert lot.lot_number not in client.get(url).get_data(as_text=True), url
    assert client.get("/documents/?started_from=yesterday").status_code == 400


@pytest.mark.req("URS-DOC-001")
def test_the_lot_documents_page_lists_hashes_and_offers_exports(db, released, make_user, login):
    client = login(make_user("auditor"))
    body = client.get(f"/documents/lots/{released.lot.id}").get_data(as_text=True)
    for kind in (DocumentKind.COA, DocumentKind.BATCH_RECORD):
        document = released.documents[kind]
        assert document.sha256 in body and f"/documents/{document.id}/download" in body
    assert "audit-trail.pdf" in body and "audit-trail.csv" in body
    assert "Regenerate" not in body  # QA only
    qa_body = login(make_user("qa")).get(f"/documents/lots/{released.lot.id}").get_data(as_text=True)
    assert "Regenerate" in qa_body


def test_an_auditor_can_open_the_lot_and_its_trail(db, released, make_user, login):
    client = login(make_user("auditor"))
    assert client.get(f"/lots/{released.lot.id}").status_code == 200
    assert client.get(f"/audit/?lot_id={released.lot.id}").status_code == 200
