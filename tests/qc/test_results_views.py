"""QC results pages: analysts enter and review, QA and auditors read."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.common.timeutil import site_today
from app.qc.models import QCResult, ResultStatus
from tests.conftest import PASSWORD


def _form(reported: str, **changes: str) -> dict[str, str]:
    yesterday = (site_today() - timedelta(days=1)).isoformat()
    fields = {"sample_id": "QC-S-009", "method": "", "instrument": "CNT-02", "tested_on": yesterday}
    return fields | {"reported_text": reported} | changes


@pytest.mark.req("URS-QC-010", "URS-QC-005")
def test_an_analyst_enters_a_result_and_sees_it_on_the_lot(lab, client, login):
    lot = lab.lot(steps=False)
    login(lab.analyst1)
    assert lot.lot_number in client.get("/qc/lots/").get_data(as_text=True)
    form = client.get(f"/qc/lots/{lot.id}/tests/VIABILITY/result").get_data(as_text=True)
    assert 'value="Automated cell count (test SOP)"' in form  # method prefilled from the spec
    response = client.post(f"/qc/lots/{lot.id}/tests/VIABILITY/result", data=_form("89.95"))
    assert response.status_code == 302
    result = lab.db.scalar(select(QCResult))
    assert (result.status, result.result_text, result.instrument) == (ResultStatus.FAIL, "90.0 %", "CNT-02")
    html = client.get(f"/qc/lots/{lot.id}").get_data(as_text=True)
    assert f'id="result-{result.id}"' in html and "OOS" in html and "&gt; 90.0 %" in html
    assert f"/qc/lots/{lot.id}/results/{result.id}/retest" in html


@pytest.mark.req("URS-QC-010", "URS-QC-005")
def test_an_unusable_result_is_refused_with_its_reason(lab, client, login):
    lot = lab.lot(steps=False)
    login(lab.analyst1)
    response = client.post(f"/qc/lots/{lot.id}/tests/VIABILITY/result", data=_form("9O.5"))
    assert response.status_code == 400
    assert "is not a usable result" in response.get_data(as_text=True)
    assert lab.db.scalar(select(QCResult)) is None


@pytest.mark.req("URS-QC-006", "URS-QC-010")
def test_the_reviewer_signs_and_the_analyst_cannot(lab, client, login):
    result = lab.enter(lab.lot(steps=False), "STERILITY", "No growth")
    signing = {"sig_username": lab.analyst1.username, "sig_password": PASSWORD, "sig_accept_policy": "y"}
    login(lab.analyst1)
    response = client.post(f"/qc/lots/{result.lot_id}/results/{result.id}/review", data=signing)
    assert response.status_code == 409 and "never the analyst" in response.get_data(as_text=True)
    client.post("/logout")
    login(lab.analyst2)
    signing["sig_username"] = lab.analyst2.username
    response = client.post(f"/qc/lots/{result.lot_id}/results/{result.id}/review", data=signing)
    assert response.status_code == 302
    lab.db.expire_all()
    assert result.reviewed_by_id == lab.analyst2.id


@pytest.mark.req("URS-QC-007", "URS-QC-010")
def test_a_retest_through_the_page(lab, client, login):
    oos = lab.enter(lab.lot(steps=False), "ENDOTOXIN", "2.0")
    login(lab.analyst2)
    assert "Retest of result" in client.get(f"/qc/lots/{oos.lot_id}/results/{oos.id}/retest").get_data(as_text=True)
    response = client.post(f"/qc/lots/{oos.lot_id}/results/{oos.id}/retest", data=_form("0.3"))
    assert response.status_code == 302
    retest = lab.db.scalar(select(QCResult).where(QCResult.retest_of_id == oos.id))
    assert retest.status == ResultStatus.PASS


@pytest.mark.req("URS-QC-010", "URS-ACC-002")
def test_qa_and_auditors_read_but_do_not_enter(lab, client, login, make_user):
    lot = lab.lot(steps=False)
    for user in (lab.qa1, make_user("auditor")):
        login(user)
        assert client.get(f"/qc/lots/{lot.id}").status_code == 200
        assert client.post(f"/qc/lots/{lot.id}/tests/VIABILITY/result", data=_form("95.0")).status_code == 403
        client.post("/logout")
    login(lab.op1)
    assert client.get(f"/qc/lots/{lot.id}").status_code == 403
