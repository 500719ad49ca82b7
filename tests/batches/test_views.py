"""The shop-floor pages as an operator uses them (thin views over the services)."""

import pytest
from sqlalchemy import select

from app.batches.models import Entry, StepStatus
from tests.conftest import PASSWORD


def _form(step, **values):
    data = {"expected_version": str(step.version_id)}
    data.update({f"in_{k}": v for k, v in values.items()})
    return data


@pytest.mark.req("URS-EXE-014")
def test_worklist_shows_the_lot_and_the_step_to_do_now(floor, login):
    client = login(floor.op1)
    page = client.get("/lots/").get_data(as_text=True)
    assert floor.lot.lot_number in page and "UP1.OP1.S1" in page and "UP2.OP1.S1" not in page


@pytest.mark.req("URS-EXE-014")
def test_step_page_builds_the_form_from_the_template(floor, login):
    client = login(floor.op1)
    step = floor.step("UP1.OP1.S1")
    page = client.get(f"/lots/{floor.lot.id}/steps/{step.id}").get_data(as_text=True)
    assert "Line clearance done" in page and 'name="in_bsc_id"' in page and 'data-scan="1"' in page
    assert "Save and sign: performed" in page and "e-signature policy" in page.lower()


@pytest.mark.req("URS-EXE-003")
def test_bad_values_are_shown_next_to_their_fields_and_nothing_is_saved(db, floor, login):
    client = login(floor.op1)
    step = floor.step("UP1.OP1.S1")
    response = client.post(f"/lots/{floor.lot.id}/steps/{step.id}",
                           data=_form(step, line_clear="yes", bsc_id="NO-SUCH") | {"action": "save"})  # fmt: skip
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="in_bsc_id-error"' in page and "NO-SUCH" in page
    assert db.scalars(select(Entry).where(Entry.step_record_id == step.id)).all() == []


@pytest.mark.req("URS-EXE-009", "URS-EXE-005")
def test_save_and_sign_in_one_request_then_verify_by_a_second_person(db, floor, client):
    step = floor.step("UP1.OP1.S1")
    client.post("/login", data={"username": floor.op1.username, "password": PASSWORD})
    response = client.post(f"/lots/{floor.lot.id}/steps/{step.id}", data=_form(
        step, line_clear="yes", bsc_id="BSC-01") | {"action": "complete", "sig_username": floor.op1.username,
                                                    "sig_password": PASSWORD, "sig_accept_policy": "y"})  # fmt: skip
    assert response.status_code == 302
    db.expire_all()
    assert step.status == StepStatus.COMPLETE and step.performed_by_id == floor.op1.id


@pytest.mark.req("URS-SIG-001", "URS-DAT-002")
def test_a_wrong_signing_password_saves_nothing(db, floor, login):
    client = login(floor.op1)
    step = floor.step("UP1.OP1.S1")
    signing = {"action": "complete", "sig_username": floor.op1.username,
               "sig_password": "not-my-password", "sig_accept_policy": "y"}  # fmt: skip
    response = client.post(f"/lots/{floor.lot.id}/steps/{step.id}",
                           data=_form(step, line_clear="yes", bsc_id="BSC-01") | signing)  # fmt: skip
    assert response.status_code == 401
    assert "password is wrong" in response.get_data(as_text=True)
    db.expire_all()
    assert step.entries == [] and step.status == StepStatus.PENDING


@pytest.mark.req("URS-EXE-012", "URS-AUD-003")
def test_correction_page_records_the_reason(db, floor, login):
    from tests.batches.test_corrections import _signed_s1

    step = _signed_s1(db, floor)
    entry = next(e for e in step.current_entries if e.input_name == "line_clear")
    client = login(floor.op2)
    response = client.post(f"/lots/entries/{entry.id}/correct",
                           data={"value": "no", "comment": "not cleared", "reason": "Ticked wrong box"})  # fmt: skip
    assert response.status_code == 302
    page = client.get(f"/lots/{floor.lot.id}/steps/{step.id}").get_data(as_text=True)
    assert "<s>yes" in page and "Ticked wrong box" in page and "invalidated" in page


@pytest.mark.req("URS-EXE-014")
def test_lot_page_shows_progress_exceptions_and_timeline(db, floor, login):
    client = login(floor.supervisor)
    page = client.get(f"/lots/{floor.lot.id}").get_data(as_text=True)
    assert "0 of 3 steps complete" in page and "Timeline" in page and "lot.started" in page
    assert "Next: UP1.OP1.S1" in page
