"""Material lots: receipt into quarantine, QA disposition with reasons, expiry (21 CFR 211.84, 211.87)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from app.common.errors import NotPermitted, RuleViolation
from app.common.timeutil import site_today
from app.inventory import services
from app.inventory.models import MaterialStatus
from tests.auth.helpers import changes, events
from tests.inventory.conftest import receive, released


@pytest.mark.req("URS-MAT-001")
def test_a_received_lot_starts_in_quarantine_and_the_receipt_is_audited(db, supervisor):
    lot = receive(db, supervisor, lot_code="  ml-2026-0042\r\n", item_code="sb431542")
    assert (lot.lot_code, lot.item_code, lot.status) == ("ML-2026-0042", "SB431542", MaterialStatus.QUARANTINE)
    [event] = events(db, "material_lot.received")
    assert event.actor_id == supervisor.id and event.entity_id == str(lot.id)
    assert changes(event)["status"] == [None, "quarantine"]


@pytest.mark.req("URS-MAT-001", "URS-ACC-002")
def test_operators_do_not_receive_material(db, operator):
    with pytest.raises(NotPermitted):
        receive(db, operator)


@pytest.mark.req("URS-MAT-001")
def test_a_lot_code_is_received_once(db, qa):
    receive(db, qa, "ML-0001")
    with pytest.raises(RuleViolation, match="already received"):
        receive(db, qa, "ml-0001", item_code="LDN193189")


@pytest.mark.req("URS-MAT-001")
@pytest.mark.parametrize(("field", "value", "message"), [
    ("item_code", "SB 431542", "Item code"),
    ("lot_code", "", "Lot ID"),
    ("quantity", Decimal("0"), "more than zero"),
    ("unit", " ", "unit"),
])  # fmt: skip
def test_receipt_refuses_incomplete_or_malformed_data(db, qa, field, value, message):
    with pytest.raises(RuleViolation, match=message) as refused:
        receive(db, qa, **{field: value})
    assert refused.value.status == 400


@pytest.mark.req("URS-MAT-002")
def test_qa_releases_with_a_reason_recorded_in_the_trail(db, qa):
    lot = receive(db, qa)
    with pytest.raises(RuleViolation, match="reason is required"):
        services.release_material_lot(db, qa, lot, "  ")
    services.release_material_lot(db, qa, lot, "CoA reviewed")
    [event] = events(db, "material_lot.released")
    assert event.reason == "CoA reviewed" and changes(event)["status"] == ["quarantine", "released"]


@pytest.mark.req("URS-MAT-002", "URS-ACC-002")
@pytest.mark.parametrize("decide", [services.release_material_lot, services.reject_material_lot])
def test_only_qa_decides_on_material(db, supervisor, decide):
    lot = receive(db, supervisor)
    with pytest.raises(NotPermitted):
        decide(db, supervisor, lot, "looks fine")


@pytest.mark.req("URS-MAT-002")
def test_a_released_lot_can_be_rejected_later_but_a_rejected_lot_is_never_released(db, qa):
    lot = released(db, qa)
    services.reject_material_lot(db, qa, lot, "Supplier recall R-17")
    assert lot.status == MaterialStatus.REJECTED
    assert events(db, "material_lot.rejected")[0].reason == "Supplier recall R-17"
    with pytest.raises(RuleViolation, match="never released"):
        services.release_material_lot(db, qa, lot, "recall withdrawn")
    with pytest.raises(RuleViolation, match="already rejected"):
        services.reject_material_lot(db, qa, lot, "again")


@pytest.mark.req("URS-MAT-002")
def test_releasing_twice_is_refused(db, qa):
    lot = released(db, qa)
    with pytest.raises(RuleViolation, match="already released"):
        services.release_material_lot(db, qa, lot, "again")


@pytest.mark.req("URS-MAT-002")
def test_an_expired_lot_cannot_be_released(db, qa):
    lot = receive(db, qa, expiry_date=site_today() - timedelta(days=1))
    with pytest.raises(RuleViolation, match="expired on"):
        services.release_material_lot(db, qa, lot, "CoA reviewed")


@pytest.mark.req("URS-MAT-002", "URS-AUD-003")
def test_changing_the_expiry_date_needs_qa_and_a_reason(db, qa, supervisor):
    lot = released(db, qa)
    old, new = lot.expiry_date, lot.expiry_date + timedelta(days=90)
    with pytest.raises(NotPermitted):
        services.set_expiry(db, supervisor, lot, new, "retest passed")
    with pytest.raises(RuleViolation, match="reason is required"):
        services.set_expiry(db, qa, lot, new, "")
    with pytest.raises(RuleViolation, match="different"):
        services.set_expiry(db, qa, lot, old, "same")
    services.set_expiry(db, qa, lot, new, "Retest RT-2026-04 passed")
    [event] = events(db, "material_lot.expiry_changed")
    assert changes(event)["expiry_date"] == [old.isoformat(), new.isoformat()]
    assert event.reason == "Retest RT-2026-04 passed"


@pytest.mark.req("URS-MAT-006")
def test_search_by_text_and_status(db, qa):
    released(db, qa, "ML-A", "SB431542")
    receive(db, qa, "ML-B", "LDN193189", name="LDN193189 stock")
    assert [lot.lot_code for lot in services.search_material_lots(db, "ldn")] == ["ML-B"]
    assert [lot.lot_code for lot in services.search_material_lots(db, None, "released")] == ["ML-A"]
    assert len(services.search_material_lots(db)) == 2


@pytest.mark.req("URS-EXE-006")
class TestUsableAtTheStep:
    """What the batch-execution engine asks when a lot is scanned."""

    def test_a_released_unexpired_lot_of_the_right_item_is_usable(self, db, qa):
        lot = released(db, qa, "ML-0001", "SB431542")
        assert services.usable_material_lot(db, " ml-0001\n", "SB431542", site_today()) is lot

    @pytest.mark.parametrize(("scanned", "bom", "message"), [
        ("NOPE-1", "SB431542", "Unknown material lot NOPE-1"),
        ("ML-0001", "LDN193189", "Lot ML-0001 is SB431542, this step needs LDN193189."),
        ("", "SB431542", "Scan or type"),
    ])  # fmt: skip
    def test_unknown_or_wrong_item(self, db, qa, scanned, bom, message):
        released(db, qa, "ML-0001", "SB431542")
        with pytest.raises(RuleViolation) as refused:
            services.usable_material_lot(db, scanned, bom, site_today())
        assert message in refused.value.message

    def test_quarantined_and_rejected_lots_are_refused(self, db, qa):
        lot = receive(db, qa)
        with pytest.raises(RuleViolation, match="in quarantine"):
            services.usable_material_lot(db, "ML-0001", "SB431542", site_today())
        services.reject_material_lot(db, qa, lot, "damaged in transit")
        with pytest.raises(RuleViolation, match="rejected by QA"):
            services.usable_material_lot(db, "ML-0001", "SB431542", site_today())

    @pytest.mark.req("URS-MAT-003")
    def test_the_expiry_date_is_the_last_day_of_use(self, db, qa):
        released(db, qa, expiry_date=date(2030, 6, 30))
        assert services.usable_material_lot(db, "ML-0001", "SB431542", date(2030, 6, 30))
        with pytest.raises(RuleViolation, match=r"expired on 2030-06-30\."):
            services.usable_material_lot(db, "ML-0001", "SB431542", date(2030, 7, 1))
