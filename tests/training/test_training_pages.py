"""The training pages: the list with its badges and filters, the record form, revoking."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from app.common.timeutil import site_today
from app.training import services
from tests.auth.helpers import events, text

pytestmark = pytest.mark.req("URS-TRN-003")


def _record(db, recorder, user, code, trained_on, expires_on):  # type: ignore[no-untyped-def]
    entry = services.record_training(db, recorder, user, code, trained_on, expires_on)
    db.commit()
    return entry


def test_the_list_shows_valid_expired_and_revoked_records_and_filters(db, people, procedure, login):
    qa, op, sup = people["qa"], people["operator"], people["supervisor"]
    _record(db, qa, op, procedure, date(2024, 1, 1), date(2024, 12, 31))
    _record(db, qa, op, procedure, date(2025, 1, 1), site_today() + timedelta(days=10))
    revoked = _record(db, qa, sup, procedure, date(2025, 1, 1), site_today() + timedelta(days=10))
    services.revoke(db, qa, revoked, "wrong trainee")
    db.commit()
    client = login(qa)
    page = text(client.get("/training/"))
    assert page.count('badge-bad">expired') == 1 and page.count('badge-ok">valid') == 1
    assert 'badge-bad">revoked' in page
    only_sup = text(client.get(f"/training/?user_id={sup.id}"))
    assert "1 record(s)" in only_sup and 'badge-bad">revoked' in only_sup
    assert "0 record(s)" in text(client.get("/training/?template_code=&user_id=999999"))


def test_a_supervisor_records_training_from_the_form(db, people, procedure, login):
    sup, op = people["supervisor"], people["operator"]
    client = login(sup)
    form_page = text(client.get("/training/new"))
    assert op.display_name in form_page and sup.display_name not in form_page  # not for oneself
    assert people["auditor"].display_name not in form_page  # auditors never execute steps
    trained = site_today().isoformat()
    data = {"user_id": str(op.id), "template_code": procedure, "trained_on": trained, "expires_on": trained}
    refused = client.post("/training/new", data=data)
    assert refused.status_code == 400 and "expire after" in text(refused)
    data["expires_on"] = (site_today() + timedelta(days=365)).isoformat()
    assert client.post("/training/new", data=data).status_code == 302
    assert services.require_training(db, op, procedure, site_today())


def test_revoking_from_the_list_needs_a_reason(db, people, procedure, login):
    qa, op = people["qa"], people["operator"]
    entry = _record(db, qa, op, procedure, date(2025, 1, 1), site_today() + timedelta(days=10))
    client = login(people["supervisor"])
    field = f"revoke-{entry.id}-reason"
    missing = client.post(f"/training/{entry.id}/revoke", data={field: ""})
    assert missing.status_code == 400 and "This field is required" in text(missing)
    assert client.post(f"/training/{entry.id}/revoke", data={field: "Retraining required"}).status_code == 302
    assert events(db, "training.revoked")[0].reason == "Retraining required"


@pytest.mark.req("URS-ACC-002")
def test_operators_and_qc_cannot_see_or_record_training(db, people, procedure, login):
    for role in ("operator", "qc_analyst"):
        client = login(people[role])
        assert client.get("/training/").status_code == 403
        assert client.get("/training/new").status_code == 403
        client.post("/logout")
    auditor = login(people["auditor"])
    assert auditor.get("/training/").status_code == 200
    assert auditor.get("/training/new").status_code == 403
