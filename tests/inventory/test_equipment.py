"""Equipment: register, status with reasons, calibration, and the check at the step (211.68)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from app.common.errors import NotPermitted, RuleViolation
from app.common.timeutil import site_today
from app.inventory import services
from app.inventory.models import EquipmentStatus
from tests.auth.helpers import changes, events
from tests.inventory.conftest import register


@pytest.mark.req("URS-MAT-005", "URS-ACC-002")
def test_supervisors_and_qa_register_equipment_operators_do_not(db, supervisor, qa, operator):
    item = register(db, supervisor, " bsc-01 ", "bsc", due=date(2030, 1, 31))
    assert (item.code, item.type_code, item.status) == ("BSC-01", "BSC", EquipmentStatus.ACTIVE)
    assert events(db, "equipment.registered")[0].actor_id == supervisor.id
    register(db, qa, "BSC-02")
    with pytest.raises(NotPermitted):
        register(db, operator, "BSC-03")
    with pytest.raises(RuleViolation, match="already registered"):
        register(db, qa, "bsc-02")


@pytest.mark.req("URS-MAT-005", "URS-AUD-003")
def test_status_changes_need_a_reason_and_retired_is_final(db, supervisor):
    item = register(db, supervisor)
    with pytest.raises(RuleViolation, match="reason is required"):
        services.set_equipment_status(db, supervisor, item, "out_of_service", "")
    services.set_equipment_status(db, supervisor, item, "out_of_service", "HEPA filter failed")
    [event] = events(db, "equipment.status_changed")
    assert event.reason == "HEPA filter failed" and changes(event)["status"] == ["active", "out_of_service"]
    with pytest.raises(RuleViolation, match="Unknown equipment status"):
        services.set_equipment_status(db, supervisor, item, "broken", "typo")
    with pytest.raises(RuleViolation, match="already out of service"):
        services.set_equipment_status(db, supervisor, item, "out_of_service", "still broken")
    services.set_equipment_status(db, supervisor, item, "retired", "Replaced by BSC-04")
    with pytest.raises(RuleViolation, match="never returns"):
        services.set_equipment_status(db, supervisor, item, "active", "repaired after all")
    with pytest.raises(RuleViolation, match="retired"):
        services.record_calibration(db, supervisor, item, site_today() + timedelta(days=30), "cal")


@pytest.mark.req("URS-MAT-005")
def test_a_calibration_records_the_next_due_date_with_its_reason(db, qa, operator):
    item = register(db, qa, due=site_today() - timedelta(days=2))
    new_due = site_today() + timedelta(days=365)
    with pytest.raises(NotPermitted):
        services.record_calibration(db, operator, item, new_due, "certificate C-1")
    with pytest.raises(RuleViolation, match="today or later"):
        services.record_calibration(db, qa, item, site_today() - timedelta(days=1), "certificate C-1")
    services.record_calibration(db, qa, item, new_due, "Certificate CAL-2026-118")
    [event] = events(db, "equipment.calibrated")
    assert changes(event)["calibration_due"][1] == new_due.isoformat()
    assert event.reason == "Certificate CAL-2026-118"


@pytest.mark.req("URS-EXE-007")
class TestUsableAtTheStep:
    def test_an_active_calibrated_item_of_the_right_type_is_usable(self, db, qa):
        item = register(db, qa, "BSC-01", "BSC", due=date(2030, 3, 31))
        assert services.usable_equipment(db, "bsc-01\r\n", "BSC", date(2030, 3, 31)) is item
        assert services.usable_equipment(db, "BSC-01", "BSC", date(2030, 3, 31)) is item

    def test_equipment_without_calibration_is_usable(self, db, qa):
        register(db, qa, "MICROSCOPE-01", "MICROSCOPE", due=None)
        assert services.usable_equipment(db, "MICROSCOPE-01", "MICROSCOPE", date(2099, 1, 1))

    @pytest.mark.parametrize(("scanned", "kind", "message"), [
        ("NOPE", "BSC", "Unknown equipment NOPE"),
        ("CNT-01", "BSC", "CNT-01 is a COUNTER, this step needs a BSC."),
    ])  # fmt: skip
    def test_unknown_or_wrong_type(self, db, qa, scanned, kind, message):
        register(db, qa, "CNT-01", "COUNTER")
        with pytest.raises(RuleViolation) as refused:
            services.usable_equipment(db, scanned, kind, site_today())
        assert message in refused.value.message

    @pytest.mark.parametrize(("status", "word"), [("out_of_service", "out of service"), ("retired", "retired")])
    def test_items_not_in_service_are_refused(self, db, qa, status, word):
        item = register(db, qa)
        services.set_equipment_status(db, qa, item, status, "broken")
        with pytest.raises(RuleViolation, match=f"BSC-01 is {word}"):
            services.usable_equipment(db, "BSC-01", "BSC", site_today())

    @pytest.mark.req("URS-MAT-003")
    def test_calibration_overdue_from_the_day_after_it_was_due(self, db, qa):
        register(db, qa, due=date(2030, 3, 31))
        with pytest.raises(RuleViolation, match=r"BSC-01 calibration overdue since 2030-03-31\."):
            services.usable_equipment(db, "BSC-01", "BSC", date(2030, 4, 1))
