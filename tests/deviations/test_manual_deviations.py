"""Raising deviations by hand, investigating and closing them, and the list order (211.192)."""

from __future__ import annotations

import pytest

from app.audit.capture import ReasonRequired
from app.batches.models import LotStatus
from app.common.errors import NotPermitted, RuleViolation
from app.deviations import services
from app.deviations.models import DeviationStatus
from app.signatures.services import signatures_of
from tests.auth.helpers import events
from tests.mbr.helpers import creds


def raise_on(db, user, lot, severity="major", category="procedural", title="Wrong pipette used"):  # type: ignore[no-untyped-def]
    deviation = services.raise_manual(db, user, lot.id, category, severity, title, "Used P200 instead of P1000.")
    db.commit()
    return deviation


@pytest.mark.req("URS-DEV-002")
@pytest.mark.parametrize("role", ["operator", "supervisor", "qc_analyst", "qa"])
def test_anyone_on_the_floor_or_in_the_labs_raises_a_deviation(db, people, make_lot, role):
    deviation = raise_on(db, people[role], make_lot())
    assert deviation.number.startswith("DEV-") and not deviation.automatic
    assert (deviation.opened_by_id, deviation.status) == (people[role].id, DeviationStatus.OPEN)
    assert events(db, "deviation.opened")[0].actor_id == people[role].id


@pytest.mark.req("URS-DEV-002", "URS-ACC-002")
@pytest.mark.parametrize("role", ["auditor", "admin"])
def test_auditors_and_admins_do_not_raise_deviations(db, people, make_lot, role):
    with pytest.raises(NotPermitted):
        raise_on(db, people[role], make_lot())


@pytest.mark.req("URS-DEV-002")
@pytest.mark.parametrize("status", [LotStatus.RELEASED, LotStatus.REJECTED])
def test_no_deviation_is_raised_on_a_dispositioned_lot(db, people, make_lot, status):
    lot = make_lot(status)
    with pytest.raises(RuleViolation, match=f"{lot.lot_number} is {status.value}"):
        raise_on(db, people["operator"], lot)


@pytest.mark.req("URS-DEV-002")
def test_a_lot_under_review_still_takes_deviations(db, people, make_lot):
    assert raise_on(db, people["qa"], make_lot(LotStatus.UNDER_REVIEW)).is_open


@pytest.mark.req("URS-DEV-002")
@pytest.mark.parametrize(("category", "severity", "title"), [
    ("nonsense", "major", "t"), ("procedural", "fatal", "t"), ("procedural", "minor", "  "),
])  # fmt: skip
def test_category_severity_and_title_are_required(db, people, make_lot, category, severity, title):
    with pytest.raises(RuleViolation) as refused:
        raise_on(db, people["operator"], make_lot(), severity, category, title)
    assert refused.value.status == 400


@pytest.mark.req("URS-DEV-003", "URS-AUD-003")
def test_only_supervisors_and_qa_investigate_and_changes_need_a_reason(db, people, make_lot):
    deviation = raise_on(db, people["operator"], make_lot())
    with pytest.raises(NotPermitted):
        services.record_investigation(db, people["operator"], deviation, "cause", "none", None)
    services.record_investigation(db, people["supervisor"], deviation, "Wrong pipette in reach", "None", "CAPA-1")
    db.commit()
    assert deviation.status == DeviationStatus.INVESTIGATION
    with pytest.raises(ReasonRequired):
        services.record_investigation(db, people["qa"], deviation, "Pipettes not labelled", "None", "CAPA-1")
    db.rollback()
    services.record_investigation(db, people["qa"], deviation, "Pipettes not labelled", "None", "CAPA-1",
                                  reason="Root cause refined after interview")  # fmt: skip
    assert events(db, "deviation.investigated")[-1].reason == "Root cause refined after interview"


@pytest.mark.req("URS-DEV-004")
def test_qa_closes_with_a_valid_signature_and_nobody_else_can(db, people, make_lot):
    deviation = raise_on(db, people["operator"], make_lot())
    with pytest.raises(RuleViolation, match="investigation"):
        services.close(db, people["qa"], deviation, creds(people["qa"]))
    services.record_investigation(db, people["supervisor"], deviation, "cause", "none", None)
    db.commit()
    with pytest.raises(NotPermitted):
        services.close(db, people["supervisor"], deviation, creds(people["supervisor"]))
    db.rollback()
    services.close(db, people["qa"], deviation, creds(people["qa"]), "Closed after review")
    db.commit()
    assert deviation.status == DeviationStatus.CLOSED and deviation.closed_by_id == people["qa"].id
    [view] = signatures_of(db, deviation)
    assert view.valid and view.signature.meaning == "approved"


@pytest.mark.req("URS-DEV-005")
def test_the_list_puts_open_deviations_first_then_the_most_severe(db, people, make_lot):
    lot, other = make_lot(), make_lot()
    minor = raise_on(db, people["qa"], lot, "minor", title="minor one")
    critical = raise_on(db, people["qa"], other, "critical", title="critical one")
    major = raise_on(db, people["qa"], lot, "major", title="major one")
    closed = raise_on(db, people["qa"], lot, "critical", title="closed one")
    services.record_investigation(db, people["qa"], closed, "cause", "none", None)
    services.close(db, people["qa"], closed, creds(people["qa"]))
    db.commit()
    assert [d for d, _ in services.search(db)] == [critical, major, minor, closed]
    assert [d for d, _ in services.search(db, status="closed")] == [closed]
    assert {number for _, number in services.search(db, lot_number=other.lot_number[-4:])} == {other.lot_number}
