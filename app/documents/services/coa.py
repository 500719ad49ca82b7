"""The data of a certificate of analysis: product, lot, dates, versions, every test, the
disposition statement and QA's signature manifestation."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.batches.models import Lot
from app.common.errors import RuleViolation
from app.documents.services.common import People, Stamp, definition_summary, lot_summary, manifestation, utc
from app.qc.models import SpecVersion
from app.qc.services import TestState, TestStatus, oos_deviations, spec_for_lot
from app.release.facts import LotFacts, gather
from app.release.models import Decision

CONFORMANCE = {
    TestState.PASS: "Conforms",
    TestState.ALERT: "Conforms",
    TestState.FAIL: "Does not conform",
    TestState.UNREVIEWED: "Result not reviewed",
    TestState.OOS_OPEN: "Conforms on retest; OOS investigation open",
    TestState.MISSING: "Not tested",
}


def lot_spec(session: Session, lot: Lot) -> SpecVersion | None:
    """The lot's specification; None when none is bound or Effective (a lot may be rejected then)."""
    try:
        return spec_for_lot(session, lot)
    except RuleViolation:
        return None


def _people(facts: LotFacts) -> set[int | None]:
    ids = {r.analyst_id for r in facts.results} | {r.reviewed_by_id for r in facts.results}
    if facts.disposition is not None:
        ids.add(facts.disposition.decided_by_id)
    if facts.review.review is not None:
        ids.add(facts.review.review.reviewed_by_id)
    return ids


def _test_row(status: TestStatus, people: People, investigations: dict[int, Any]) -> dict[str, Any]:
    test, latest = status.test, status.latest
    history = [f"{r.result_text} ({r.status.value}"
               + (f", OOS investigation {investigations[r.id].number} {investigations[r.id].status.value}"
                  if r.id in investigations else "") + ")"
               for r in status.results[:-1]]  # fmt: skip
    return {
        "code": test.code, "name": test.name, "type": test.type, "required": test.required_for_release,
        "method": latest.method if latest else test.method,
        "acceptance": test.acceptance_text or test.limit_text(),
        "result": latest.result_text if latest else None, "reported_text": latest.reported_text if latest else None,
        "state": status.state.value, "conformance": CONFORMANCE[status.state],
        "sample_id": latest.sample_id if latest else None, "instrument": latest.instrument if latest else None,
        "tested_on": latest.tested_on.isoformat() if latest else None,
        "analyst": people(latest.analyst_id) if latest else None,
        "reviewed_by": people(latest.reviewed_by_id) if latest else None,
        "reviewed_at": utc(latest.reviewed_at) if latest else None,
        "earlier_results": history,
    }  # fmt: skip


def qc_rows(session: Session, facts: LotFacts, people: People) -> list[dict[str, Any]]:
    investigations = oos_deviations(session, facts.lot.id)
    return [_test_row(status, people, investigations) for status in facts.tests]


def statement(facts: LotFacts, spec: SpecVersion | None) -> str:
    lot, disposition = facts.lot, facts.disposition
    if disposition is None:
        return f"No disposition is recorded for lot {lot.lot_number}: this is not a certificate of release."
    if disposition.decision == Decision.REJECTED:
        return (f"Quality Assurance REJECTED lot {lot.lot_number}. Reason: {disposition.comment}. "
                "The lot must not be used, distributed or administered.")  # fmt: skip
    spec_text = f"specification {spec.label}" if spec else "its specification"
    return (f"Quality Assurance reviewed the executed batch record of lot {lot.lot_number}, its audit "
            f"trail and the quality control results above. The lot was manufactured according to master "
            f"batch record {lot.template_version.label} and conforms to {spec_text}. "
            f"Lot {lot.lot_number} is RELEASED.")  # fmt: skip


def disposition_summary(facts: LotFacts, spec: SpecVersion | None, people: People) -> dict[str, Any]:
    d, review = facts.disposition, facts.review
    return {
        "decision": d.decision.value if d else None, "comment": d.comment if d else None,
        "decided_at": utc(d.decided_at) if d else None, "decided_by": people(d.decided_by_id) if d else None,
        "statement": statement(facts, spec),
        "signatures": [manifestation(v) for v in facts.disposition_signatures],
        "review": None if review.review is None else {
            "reviewed_at": utc(review.review.reviewed_at), "reviewed_by": people(review.review.reviewed_by_id),
            "through_event_id": review.review.through_event_id,
            "through_event_hash": review.review.through_event_hash,
            "signatures": [manifestation(v) for v in review.signatures]},
    }  # fmt: skip


def coa_data(session: Session, lot: Lot, stamp: Stamp) -> dict[str, Any]:
    """Everything the certificate shows, as JSON-safe data (also its embedded attachment)."""
    facts = gather(session, lot)
    spec = lot_spec(session, lot)
    people = People(session, _people(facts))
    return {
        "document": stamp.as_dict(),
        "lot": lot_summary(lot),
        "template": definition_summary(lot.template_version),
        "specification": definition_summary(spec),
        "specification_note": facts.qc_problem,
        "tests": qc_rows(session, facts, people),
        "disposition": disposition_summary(facts, spec, people),
    }  # fmt: skip
