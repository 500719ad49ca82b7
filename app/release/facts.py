"""Everything release decisions are made from, read once per request from the lot's records.

Both the review-by-exception page and the release refusals derive from one `LotFacts`, so
the page shows exactly the reasons the release button would give.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.models import AuditEvent
from app.batches.models import Lot, StepRecord
from app.batches.services.overview import content_refs
from app.common.errors import RuleViolation
from app.deviations.models import Deviation
from app.deviations.services import for_lot
from app.qc.models import QCResult
from app.qc.services import TestStatus, results_for_lot, statuses_for_lot
from app.release.models import Disposition, LotReview
from app.signatures.services import SignatureView, has_valid, signatures_of, signatures_of_many


@dataclass(frozen=True)
class Target:
    """The record an exception or a signature belongs to, for a link to it."""

    entity_type: str
    entity_id: int
    lot_id: int
    step_id: int | None = None


@dataclass(frozen=True)
class SignedRecord:
    """One signed record of the lot with its signatures and their derived validity."""

    label: str
    target: Target
    signatures: list[SignatureView]

    def blocking_invalid(self) -> list[SignatureView]:
        """Invalid signatures not followed by a valid one of the same meaning (not re-signed)."""
        found = []
        for index, view in enumerate(self.signatures):
            resigned = has_valid(self.signatures[index + 1 :], view.signature.meaning)
            if not view.valid and not resigned:
                found.append(view)
        return found


@dataclass(frozen=True)
class ReviewState:
    """The lot's latest QA review and whether its signature still holds."""

    review: LotReview | None = None
    signatures: list[SignatureView] = field(default_factory=list)
    changes: list[AuditEvent] = field(default_factory=list)

    @property
    def signature(self) -> SignatureView | None:
        return next((v for v in reversed(self.signatures) if v.signature.meaning == "reviewed"), None)

    @property
    def valid(self) -> bool:
        return self.signature is not None and self.signature.valid


@dataclass(frozen=True)
class LotFacts:
    lot: Lot
    signed: list[SignedRecord]
    deviations: list[Deviation]
    results: list[QCResult]
    tests: list[TestStatus]
    #: Why the QC status cannot be known (e.g. no Effective specification), else None.
    qc_problem: str | None
    review: ReviewState
    disposition: Disposition | None
    disposition_signatures: list[SignatureView]


def current_review(session: Session, lot: Lot) -> ReviewState:
    """The latest review of the lot; its signature is invalid once the record changed after it."""
    review = session.scalar(select(LotReview).where(LotReview.lot_id == lot.id).order_by(LotReview.id.desc()).limit(1))
    if review is None:
        return ReviewState()
    changes = review.changes_since()
    refs = sorted({(e.entity_type, e.entity_id) for e in changes if e.entity_type and e.entity_id})
    return ReviewState(review, signatures_of(session, review, refs or None), changes)


def disposition_of(session: Session, lot: Lot) -> Disposition | None:
    return session.scalar(select(Disposition).where(Disposition.lot_id == lot.id))


def _signed_records(session: Session, lot: Lot, deviations: list[Deviation],
                    results: list[QCResult]) -> list[SignedRecord]:  # fmt: skip
    """Every signed record of the lot; all their signatures are read in one query (was one per record)."""
    steps = list(lot.steps)
    labelled = [(f"Step {s.step_code}", Target("StepRecord", s.id, lot.id, s.id)) for s in steps]
    labelled += [(f"Deviation {d.number}", Target("Deviation", d.id, lot.id)) for d in deviations]
    labelled += [(f"QC result #{r.id} ({r.test_code})", Target("QCResult", r.id, lot.id)) for r in results]
    items = [(s, content_refs(s)) for s in steps] + [(d, None) for d in deviations] + [(r, None) for r in results]
    views = signatures_of_many(session, items)
    return [SignedRecord(label, target, v) for (label, target), v in zip(labelled, views, strict=True)]


def gather(session: Session, lot: Lot) -> LotFacts:
    """Read the lot's steps, signatures, deviations, QC results and review once."""
    deviations = for_lot(session, lot.id)
    results = results_for_lot(session, lot.id)
    try:
        tests, qc_problem = statuses_for_lot(session, lot), None
    except RuleViolation as exc:
        tests, qc_problem = [], exc.message
    disposition = disposition_of(session, lot)
    return LotFacts(lot, _signed_records(session, lot, deviations, results), deviations, results, tests,
                    qc_problem, current_review(session, lot), disposition,
                    signatures_of(session, disposition) if disposition else [])  # fmt: skip


def step_records(lot: Lot) -> dict[str, StepRecord]:
    return {s.step_code: s for s in lot.steps}
