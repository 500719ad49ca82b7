"""The material lot and equipment pages: lists with badges, forms with reasons, refusals shown."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.common.timeutil import site_today
from app.inventory import services
from app.inventory.models import EquipmentStatus, MaterialStatus
from tests.auth.helpers import events, text
from tests.inventory.conftest import receive, register, released

pytestmark = pytest.mark.req("URS-MAT-006")

SOON = (site_today() + timedelta(days=100)).isoformat()


def test_the_material_list_shows_status_and_expiry_badges_and_filters(db, qa, operator, login):
    released(db, qa, "ML-GOOD", expiry_date=site_today() + timedelta(days=5))
    receive(db, qa, "ML-QUAR", "LDN193189")
    released(db, qa, "ML-OLD", "CHIR99021", expiry_date=site_today() + timedelta(days=5))
    services.set_expiry(db, qa, services.find_material_lot(db, "ML-OLD"), site_today() - timedelta(days=1), "recall")
    db.commit()
    client = login(operator)
    page = text(client.get("/inventory/materials"))
    assert 'badge-warn">quarantine' in page and 'badge-ok">released' in page
    assert page.count('badge-bad">expired') == 1
    assert "Receive a lot" not in page  # operators do not receive
    filtered = text(client.get("/inventory/materials?q=chir&status=released"))
    assert "ML-OLD" in filtered and "ML-GOOD" not in filtered
    assert client.get("/inventory/materials?status=bogus").status_code == 400


def test_a_supervisor_receives_a_lot_from_the_form(db, supervisor, login):
    client = login(supervisor)
    assert client.get("/inventory/materials/new").status_code == 200
    form = {"lot_code": "ml-77", "item_code": "SB431542", "name": "SB431542 stock", "supplier": "Tocris",
            "supplier_lot": "T9", "expiry_date": SOON, "unit": "µL", "quantity": "250"}  # fmt: skip
    response = client.post("/inventory/materials/new", data=form)
    lot = services.find_material_lot(db, "ML-77")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/materials/{lot.id}")
    assert lot.status == MaterialStatus.QUARANTINE and str(lot.quantity_on_hand) == "250"
    again = client.post("/inventory/materials/new", data=form)
    assert again.status_code == 409 and "already received" in text(again)
    assert 'value="SB431542 stock"' in text(again)  # what was typed is kept


@pytest.mark.req("URS-MAT-002")
def test_qa_releases_from_the_lot_page_and_a_missing_reason_is_shown(db, qa, login):
    lot = receive(db, qa)
    client = login(qa)
    page = text(client.get(f"/inventory/materials/{lot.id}"))
    assert "Release lot" in page and "Reject lot" in page
    missing = client.post(f"/inventory/materials/{lot.id}/release", data={"release-reason": ""})
    assert missing.status_code == 400 and "This field is required" in text(missing)
    done = client.post(f"/inventory/materials/{lot.id}/release", data={"release-reason": "CoA reviewed"})
    assert done.status_code == 302
    db.expire_all()  # the request saved through its own session
    assert services.get_material_lot(db, lot.id).status == MaterialStatus.RELEASED
    assert events(db, "material_lot.released")[0].reason == "CoA reviewed"


def test_a_refused_decision_is_explained_on_the_page(db, qa, login):
    lot = receive(db, qa)
    services.reject_material_lot(db, qa, lot, "damaged")
    db.commit()
    response = login(qa).post(f"/inventory/materials/{lot.id}/release", data={"release-reason": "try"})
    assert response.status_code == 409 and "never released" in text(response)


def test_qa_changes_the_expiry_from_the_page(db, qa, login):
    lot = released(db, qa)
    response = login(qa).post(f"/inventory/materials/{lot.id}/expiry",
                              data={"expiry-expiry_date": SOON, "expiry-reason": "retest passed"})  # fmt: skip
    assert response.status_code == 302
    db.expire_all()
    assert services.get_material_lot(db, lot.id).expiry_date.isoformat() == SOON


@pytest.mark.req("URS-MAT-002", "URS-ACC-002")
def test_supervisors_cannot_release_or_reject(db, qa, supervisor, login):
    lot = receive(db, qa)
    client = login(supervisor)
    assert "Release lot" not in text(client.get(f"/inventory/materials/{lot.id}"))
    for action in ("release", "reject", "expiry"):
        assert client.post(f"/inventory/materials/{lot.id}/{action}", data={}).status_code == 403


def test_equipment_register_status_and_calibration_pages(db, supervisor, login):
    client = login(supervisor)
    response = client.post("/inventory/equipment/new", data={"code": "cnt-02", "type_code": "COUNTER",
                                                            "name": "Cell counter", "location": "QC lab",
                                                            "calibration_due": SOON})  # fmt: skip
    item = services.find_equipment(db, "CNT-02")
    assert response.status_code == 302 and item.calibration_due.isoformat() == SOON
    assert "Record calibration" in text(client.get(f"/inventory/equipment/{item.id}"))
    later = (site_today() + timedelta(days=365)).isoformat()
    assert (
        client.post(
            f"/inventory/equipment/{item.id}/calibration",
            data={"calibration-calibration_due": later, "calibration-reason": "CAL-9"},
        ).status_code
        == 302
    )
    assert (
        client.post(
            f"/inventory/equipment/{item.id}/status", data={"status-status": "out_of_service", "status-reason": ""}
        ).status_code
        == 400
    )
    assert (
        client.post(
            f"/inventory/equipment/{item.id}/status",
            data={"status-status": "out_of_service", "status-reason": "lamp failed"},
        ).status_code
        == 302
    )
    db.expire_all()
    item = services.get_equipment(db, item.id)
    assert (item.status, item.calibration_due.isoformat()) == (EquipmentStatus.OUT_OF_SERVICE, later)


def test_the_equipment_list_flags_overdue_calibration(db, qa, operator, login):
    register(db, qa, "BSC-01", due=site_today() - timedelta(days=1))
    register(db, qa, "BSC-02", due=site_today())
    page = text(login(operator).get("/inventory/equipment"))
    assert page.count("calibration overdue") == 1 and "Register equipment" not in page


@pytest.mark.req("URS-ACC-002")
def test_operators_cannot_receive_or_register(db, operator, login):
    client = login(operator)
    for path in ("/inventory/materials/new", "/inventory/equipment/new"):
        assert client.get(path).status_code == 403
        assert client.post(path, data={}).status_code == 403
