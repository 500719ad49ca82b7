"""Label data of a lot for a licensed site's ISBT 128 label system: content, export, access."""

import csv
import hashlib
import io
import json
from datetime import UTC, datetime

import pytest

from app.audit import capture as audit
from app.batches import services
from app.batches.models import LotStatus
from app.common import isbt128
from app.common.timeutil import site_today
from tests.auth.helpers import events
from tests.lot_fixtures import SHORT, SYSTEM, make_effective

pytestmark = pytest.mark.req("URS-EXE-015")

PATTERN = "{product}-{yyyy}-{seq:04d}"


@pytest.fixture(autouse=True)
def shelf_life(app, monkeypatch):
    """The site's shelf life of the test products: 6 months."""
    monkeypatch.setitem(app.config, "SHELF_LIFE_MONTHS", {"SHORT-TEST": 6, "NOCODE-TEST": 6})


@pytest.fixture
def isbt_lot(db, floor):
    lot = services.start_lot(db, floor.supervisor, floor.template, "WCB-0042 vial 8", PATTERN, fin="A9999")
    db.commit()
    return lot


def test_label_data_of_a_lot_with_din_and_product_code(isbt_lot):
    data = services.label_data(isbt_lot)
    din = isbt_lot.isbt128_din
    assert data["isbt128_din"] == din and data["isbt128_din_check_character"] == isbt128.check_character(din)
    assert data["isbt128_din_eye_readable"] == f"{din[:5]} {din[5:7]} {din[7:]}"
    assert data["isbt128_product_code"] == "S9999V00"
    assert data["lot_number"] == isbt_lot.lot_number and data["product"] == "TEST-CELLS"
    assert data["master_batch_record"] == "SHORT-TEST v1.1" and data["starting_material"] == "WCB-0042 vial 8"
    assert data["disposition"] == "quarantined" and data["lot_status"] == "in_progress"
    assert data["started_at"].endswith("Z") and data["executed_at"] is None and data["manufactured_on"] is None
    assert data["expiry_date"] is None and data["format"] == 2
    assert data["missing"] == []
    json.dumps(data)  # plain JSON, as exported


def test_without_a_fin_the_label_data_says_why_there_is_no_din(floor):
    data = services.label_data(floor.lot)
    assert data["isbt128_din"] is None and data["isbt128_din_check_character"] is None
    assert data["isbt128_product_code"] == "S9999V00"
    assert data["missing"] == ["no ISBT 128 DIN: the site had no FIN configured (CELLBATCH_ISBT128_FIN) "
                               "when the lot started"]  # fmt: skip


def test_a_template_without_product_code_is_named(db, floor, tmp_path):
    path = tmp_path / "NOCODE-TEST.v1.yaml"
    path.write_text(SHORT.read_text().replace("isbt128_product_code: S9999V00\n", "")
                    .replace("code: SHORT-TEST", "code: NOCODE-TEST").replace('"ST-', '"NC-'))  # fmt: skip
    lot = services.start_lot(db, floor.supervisor, make_effective(db, path), "WCB-1", PATTERN, fin="A9999")
    [reason] = services.label_data(lot)["missing"]
    assert reason == "no ISBT 128 product code: master batch record NOCODE-TEST v1.1 declares none"


@pytest.mark.parametrize(("status", "disposition"), [
    (LotStatus.EXECUTED, "quarantined"), (LotStatus.UNDER_REVIEW, "quarantined"),
    (LotStatus.RELEASED, "released"), (LotStatus.REJECTED, "rejected"),
])  # fmt: skip
def test_disposition_manufacture_and_expiry_date(db, isbt_lot, status, disposition):
    with audit.action(db, "test.dispositioned", SYSTEM):
        isbt_lot.status = status
        # 23:30 UTC is the next day at the site (Europe/Berlin): the date the CoA also prints.
        isbt_lot.executed_at = datetime(2026, 3, 10, 23, 30, tzinfo=UTC)
    data = services.label_data(isbt_lot)
    assert data["disposition"] == disposition and data["lot_status"] == status.value
    assert data["executed_at"] == "2026-03-10T23:30:00Z" and data["manufactured_on"] == "2026-03-11"
    assert data["expiry_date"] == "2026-09-11"  # six months of shelf life


def test_expiry_is_clamped_to_the_end_of_a_shorter_month_and_shown_on_the_lot_page(db, floor, isbt_lot, login):
    with audit.action(db, "test.executed", SYSTEM):
        isbt_lot.status = LotStatus.EXECUTED
        isbt_lot.executed_at = datetime(2026, 8, 31, 10, 0, tzinfo=UTC)
    db.commit()
    assert services.label_data(isbt_lot)["expiry_date"] == "2027-02-28"
    page = login(floor.op1).get(f"/lots/{isbt_lot.id}").get_data(as_text=True)
    assert '<th scope="row">Expires on</th><td>2027-02-28</td>' in page


def test_without_a_shelf_life_there_is_no_expiry_and_no_label(app, db, isbt_lot, monkeypatch):
    monkeypatch.setitem(app.config, "SHELF_LIFE_MONTHS", {})
    with audit.action(db, "test.executed", SYSTEM):
        isbt_lot.status = LotStatus.EXECUTED
        isbt_lot.executed_at = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
    data = services.label_data(isbt_lot)
    assert data["manufactured_on"] == "2026-03-10" and data["expiry_date"] is None
    assert data["missing"] == [
        "no expiry date: the site set no shelf life for SHORT-TEST (CELLBATCH_SHELF_LIFE_MONTHS)"
    ]


def test_json_export_is_audited_with_the_exact_text(db, floor, isbt_lot, login):
    response = login(floor.op1).get(f"/lots/{isbt_lot.id}/label-data")
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.get_data(as_text=True)
    assert json.loads(body) == services.label_data(isbt_lot)
    [event] = events(db, "lot.label_data_exported")
    details = json.loads(event.details)
    assert (event.actor_id, event.entity_id, event.lot_id) == (floor.op1.id, str(isbt_lot.id), isbt_lot.id)
    assert details == {"format": "json", "din": isbt_lot.isbt128_din,
                       "sha256": hashlib.sha256(body.encode()).hexdigest()}  # fmt: skip


def test_csv_export_is_one_header_row_and_one_row(db, floor, isbt_lot, login):
    response = login(floor.supervisor).get(f"/lots/{isbt_lot.id}/label-data.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == f'attachment; filename="label-data-{isbt_lot.lot_number}.csv"'
    [row] = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert row["isbt128_din"] == isbt_lot.isbt128_din and row["isbt128_product_code"] == "S9999V00"
    assert row["isbt128_din_check_character"] == isbt128.check_character(isbt_lot.isbt128_din)
    assert row["executed_at"] == "" and row["missing"] == ""
    assert json.loads(events(db, "lot.label_data_exported")[0].details)["format"] == "csv"


def test_a_reader_without_label_rights_sees_the_data_but_cannot_export(db, floor, isbt_lot, login, make_user):
    client = login(make_user("auditor"))
    page = client.get(f"/lots/{isbt_lot.id}").get_data(as_text=True)
    assert isbt128.eye_readable(isbt_lot.isbt128_din) in page and "S9999V00" in page
    assert "label-data" not in page
    assert client.get(f"/lots/{isbt_lot.id}/label-data").status_code == 403
    assert events(db, "lot.label_data_exported") == []


def test_the_lot_page_shows_the_din_and_the_export_links(floor, isbt_lot, login):
    page = login(floor.op1).get(f"/lots/{isbt_lot.id}").get_data(as_text=True)
    assert isbt128.eye_readable(isbt_lot.isbt128_din) in page
    assert f">{isbt128.check_character(isbt_lot.isbt128_din)}</code>" in page
    assert f"/lots/{isbt_lot.id}/label-data.csv" in page and "No ISBT 128 label can be printed" not in page


def test_the_lot_page_says_when_no_label_can_be_printed(floor, login):
    page = login(floor.op1).get(f"/lots/{floor.lot.id}").get_data(as_text=True)
    assert "No ISBT 128 label can be printed: no ISBT 128 DIN" in page


def test_a_lot_started_from_the_page_gets_the_sites_din(app, db, floor, login, monkeypatch):
    monkeypatch.setitem(app.config, "ISBT128_FIN", "A9999")
    response = login(floor.supervisor).post("/lots/new", data={"template_version_id": floor.template.id,
                                                               "starting_material": "WCB-0042 vial 9"})  # fmt: skip
    assert response.status_code == 302
    lot = services.get_lot(db, int(response.headers["Location"].rsplit("/", 1)[1]))
    assert lot.isbt128_din == f"A9999{site_today().year % 100:02d}000001"
