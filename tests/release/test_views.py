"""QA's release pages: who may use them, exceptions first, signing through the dialogs."""

from __future__ import annotations

import pytest

from app.batches.models import LotStatus
from app.release.models import Disposition
from tests.conftest import PASSWORD
from tests.release.conftest import sign_review


def _sign(user, dialog: str, **extra: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {f"{dialog}-sig_username": user.username, f"{dialog}-sig_password": PASSWORD,
            f"{dialog}-sig_accept_policy": "y", **{f"{dialog}-sig_{k}": v for k, v in extra.items()}}  # fmt: skip


@pytest.mark.req("URS-REL-006", "URS-ACC-002")
def test_only_qa_uses_the_release_pages(lab, ready, client, login):
    for user in (lab.op1, lab.analyst1):
        login(user)
        assert client.get("/release/").status_code == 403
        assert client.get(f"/release/lots/{ready.id}").status_code == 403
        client.post("/logout")
    login(lab.qa1)
    page = client.get("/release/")
    assert page.status_code == 200 and ready.lot_number in page.get_data(as_text=True)


@pytest.mark.req("URS-REL-006", "URS-REL-002")
def test_qa_starts_the_review_of_an_executed_lot(lab, client, login):
    lot = lab.lot()
    login(lab.qa1)
    assert "Start review" in client.get("/release/").get_data(as_text=True)
    response = client.post(f"/release/lots/{lot.id}/start-review")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/release/lots/{lot.id}")
    lab.db.expire_all()
    assert lot.status == LotStatus.UNDER_REVIEW


@pytest.mark.req("URS-REL-006", "URS-REL-002")
def test_the_review_page_shows_exceptions_first_linked_to_their_records(lab, ready, client, login):
    step = lab.step(ready, "UP1.OP1.S2")
    from app.audit import capture as audit
    from app.batches.models import StepStatus

    with audit.action(lab.db, "test.step_reopened", audit.Actor.system("tests")):
        step.status = StepStatus.AWAITING_VERIFICATION
    lab.db.commit()
    login(lab.qa1)
    html = client.get(f"/release/lots/{ready.id}").get_data(as_text=True)
    assert html.index('id="exceptions"') < html.index('id="summary"') < html.index('id="disposition"')
    assert f'href="/lots/{ready.id}/steps/{step.id}"' in html  # the batch record's step page
    assert "Step UP1.OP1.S2 (Prepare medium) is not complete (awaiting verification)." in html
    assert "Release is refused (2)" in html and "QA has not signed the review" in html
    assert 'name="release-sig_password"' not in html  # no release dialog while refused
    assert 'name="review-sig_password"' in html and 'name="reject-sig_password"' in html


@pytest.mark.req("URS-REL-006")
def test_a_clean_lot_says_so_and_its_summary_counts(lab, ready, client, login):
    login(lab.qa1)
    html = client.get(f"/release/lots/{ready.id}").get_data(as_text=True)
    assert "No exceptions" in html and "6 of 6 complete" in html


@pytest.mark.req("URS-REL-006", "URS-REL-003")
def test_review_and_release_through_the_signing_dialogs(lab, ready, client, login):
    login(lab.qa1)
    response = client.post(f"/release/lots/{ready.id}/review", data=_sign(lab.qa1, "review"))
    assert response.status_code == 302, response.get_data(as_text=True)
    html = client.get(f"/release/lots/{ready.id}").get_data(as_text=True)
    assert 'name="release-sig_password"' in html and "Release is refused" not in html
    response = client.post(f"/release/lots/{ready.id}/release", data={"release-sig_password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)
    lab.db.expire_all()
    assert ready.status == LotStatus.RELEASED
    html = client.get(f"/release/lots/{ready.id}").get_data(as_text=True)
    assert "Released" in html and "sig-valid" in html


@pytest.mark.req("URS-REL-006", "URS-REL-001")
def test_a_refused_release_shows_every_reason(lab, ready, client, login):
    login(lab.qa1)
    response = client.post(f"/release/lots/{ready.id}/release", data=_sign(lab.qa1, "release"))
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "cannot be released" in html and "QA has not signed the review" in html
    assert lab.db.query(Disposition).count() == 0


@pytest.mark.req("URS-REL-006", "URS-REL-003")
def test_rejecting_needs_a_comment(lab, ready, client, login):
    sign_review(lab, ready)
    login(lab.qa2)
    response = client.post(f"/release/lots/{ready.id}/reject", data=_sign(lab.qa2, "reject"))
    assert response.status_code == 409
    assert "A rejection needs a comment" in response.get_data(as_text=True)
    response = client.post(f"/release/lots/{ready.id}/reject", data=_sign(lab.qa2, "reject", comment="Vials cracked"))
    assert response.status_code == 302
    lab.db.expire_all()
    assert ready.status == LotStatus.REJECTED
