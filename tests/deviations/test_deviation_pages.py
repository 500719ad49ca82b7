"""Deviation pages: list, raise, the record with its links, investigation and signed closure."""

from __future__ import annotations

import pytest

from app.audit.capture import Actor
from app.batches.models import LotStatus
from app.deviations import services
from app.deviations.models import Category, DeviationStatus, Severity
from tests.auth.helpers import events, text
from tests.conftest import PASSWORD
from tests.deviations.conftest import step_with_entry

SIGN = {"sig_username": "", "sig_password": PASSWORD, "sig_accept_policy": "y", "sig_comment": "Reviewed"}


def _open(db, people, lot, **kw):  # type: ignore[no-untyped-def]
    deviation = services.raise_manual(db, people["operator"], lot.id, kw.get("category", "procedural"),
                                      kw.get("severity", "major"), kw.get("title", "Label misprinted"),
                                      "The label lacked the expiry date.")  # fmt: skip
    db.commit()
    return deviation


def _investigated(db, people, lot):  # type: ignore[no-untyped-def]
    deviation = _open(db, people, lot)
    services.record_investigation(db, people["supervisor"], deviation, "Printer template outdated", "None", "C-7")
    db.commit()
    return deviation


@pytest.mark.req("URS-DEV-005")
def test_the_list_shows_severity_and_status_badges_and_filters(db, people, make_lot, login):
    lot = make_lot()
    _open(db, people, lot, severity="critical", title="Critical one")
    _open(db, people, make_lot(), severity="minor", title="Minor one")
    client = login(people["qc_analyst"])
    page = text(client.get("/deviations/"))
    assert page.index("Critical one") < page.index("Minor one")
    assert 'badge-bad">critical' in page and 'badge-warn">open' in page
    filtered = text(client.get(f"/deviations/?lot={lot.lot_number}&status=open"))
    assert "Critical one" in filtered and "Minor one" not in filtered
    assert client.get("/deviations/?status=bogus").status_code == 400


@pytest.mark.req("URS-DEV-002")
def test_an_operator_raises_a_deviation_on_an_open_lot(db, people, make_lot, login):
    lot, done = make_lot(), make_lot(LotStatus.RELEASED)
    client = login(people["operator"])
    form = text(client.get(f"/deviations/new?lot_id={lot.id}"))
    assert f'<option selected value="{lot.id}">' in form and done.lot_number not in form
    data = {"lot_id": str(lot.id), "category": "equipment", "severity": "minor", "title": "Pipette dropped",
            "description": "Pipette dropped on the floor; replaced before use."}  # fmt: skip
    response = client.post("/deviations/new", data=data)
    [(deviation, _)] = services.search(db)
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/deviations/{deviation.id}")
    assert (deviation.category, deviation.severity) == (Category.EQUIPMENT, Severity.MINOR)
    refused = client.post("/deviations/new", data={**data, "lot_id": str(done.id)})
    assert refused.status_code == 400  # a released lot is not even a choice


@pytest.mark.req("URS-DEV-003")
def test_the_record_shows_its_links_and_only_investigators_see_the_form(db, people, make_lot, login):
    lot = make_lot()
    step, entry = step_with_entry(db, lot, people["operator"])
    deviation = services.open_deviation(db, Actor.system("limit check"), lot.id, Category.LIMIT, Severity.MAJOR,
                                        "Viability below action limit", "78.0 % < 80.0 %", automatic=True,
                                        step_record_id=step.id, entry_id=entry.id, qc_result_id=42)  # fmt: skip
    db.commit()
    page = text(login(people["operator"]).get(f"/deviations/{deviation.id}"))
    for shown in (lot.lot_number, "UP2.OP1.S1", "viability = 78.0 %", "below action limit", "#42", "automatically"):
        assert shown in page
    assert "Record investigation" not in page and "Sign and close" not in page
    assert "Record investigation" in text(login(people["supervisor"]).get(f"/deviations/{deviation.id}"))


@pytest.mark.req("URS-DEV-003", "URS-AUD-003")
def test_investigation_from_the_page_and_a_change_needs_a_reason(db, people, make_lot, login):
    deviation = _open(db, people, make_lot())
    client = login(people["supervisor"])
    data = {"root_cause": "Template outdated", "impact": "None: label reprinted", "capa_ref": "CAPA-3"}
    assert client.post(f"/deviations/{deviation.id}/investigation", data=data).status_code == 302
    changed = client.post(f"/deviations/{deviation.id}/investigation", data={**data, "impact": "Two vials"})
    assert changed.status_code == 400 and "reason" in text(changed) and "Two vials" in text(changed)
    data.update(impact="Two vials relabelled", reason="Second label check found two vials")
    assert client.post(f"/deviations/{deviation.id}/investigation", data=data).status_code == 302
    assert events(db, "deviation.investigated")[-1].reason == "Second label check found two vials"
    assert login(people["operator"]).post(f"/deviations/{deviation.id}/investigation", data=data).status_code == 403


@pytest.mark.req("URS-DEV-004", "URS-SIG-005")
def test_qa_closes_with_an_e_signature_shown_with_its_validity(db, people, make_lot, login):
    deviation = _investigated(db, people, make_lot())
    qa = people["qa"]
    client = login(qa)
    assert "Sign and close" in text(client.get(f"/deviations/{deviation.id}"))
    wrong = client.post(f"/deviations/{deviation.id}/close", data={**SIGN, "sig_username": qa.username,
                                                                 "sig_password": "not-my-password"})  # fmt: skip
    assert wrong.status_code == 401 and "password is wrong" in text(wrong)
    assert services.get(db, deviation.id).status == DeviationStatus.INVESTIGATION
    assert events(db, "signature.refused")
    done = client.post(f"/deviations/{deviation.id}/close", data={**SIGN, "sig_username": qa.username})
    assert done.status_code == 302
    page = text(client.get(f"/deviations/{deviation.id}"))
    assert 'badge-ok">closed' in page and 'badge-ok">valid' in page and qa.full_name in page
    assert "Record investigation" not in page and "Sign and close" not in page


@pytest.mark.req("URS-DEV-004", "URS-ACC-002")
def test_only_qa_may_close(db, people, make_lot, login):
    deviation = _investigated(db, people, make_lot())
    response = login(people["supervisor"]).post(f"/deviations/{deviation.id}/close", data=SIGN)
    assert response.status_code == 403


@pytest.mark.req("URS-DEV-002", "URS-ACC-002")
def test_auditors_read_but_do_not_raise(db, people, make_lot, login):
    deviation = _open(db, people, make_lot())
    client = login(people["auditor"])
    assert client.get("/deviations/").status_code == 200
    assert client.get(f"/deviations/{deviation.id}").status_code == 200
    assert client.get("/deviations/new").status_code == 403
    assert "Raise a deviation" not in text(client.get("/deviations/"))
