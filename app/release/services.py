"""QA review and disposition of a lot (issue #7 points 4-5; EU GMP Annex 11 §9, §15).

Executed -> Under review (QA starts the review) -> QA signs the review of the record and its
audit trail ("reviewed") -> QA releases ("released") or rejects ("rejected", comment
required). Release is refused with every reason at once. The QA signer cannot have performed
or verified a step of the lot. One decision per lot: the unique dispositions.lot_id and the
lot's version column make the database refuse a second, concurrent one.

Decision: rejecting needs the lot under review and a comment, but not a complete record,
closed deviations or a signed review: a lot that failed is rejected because of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit import capture as audit
from app.audit.capture import Actor
from app.audit.models import AuditEvent
from app.auth.models import User
from app.auth.permissions import require_roles
from app.auth.roles import QA
from app.batches.models import Lot, LotStatus
from app.common.db import refuse_concurrent
from app.common.errors import RuleViolation
from app.common.timeutil import utcnow
from app.release import checks
from app.release.facts import ReviewState, current_review, gather
from app.release.models import Decision, Disposition, LotReview, step_signers
from app.release.report import ReviewReport
from app.release.report import exceptions as _exceptions
from app.signatures.services import Credentials, sign

_DISPOSITION_CONSTRAINTS = ("uq_dispositions_lot_id", "dispositions.lot_id")
#: Called after a disposition is recorded and signed, in its transaction; slow work is queued to
#: run after the commit (`app.common.db.after_commit`): rendering the documents holds no lock of
#: the decision. Release never imports its dependants: create_app appends them here.
DISPOSITION_HOOKS: list[Callable[[Session, Lot, User], None]] = []


@dataclass(frozen=True)
class QueueItem:
    """A lot on QA's release page, with what still stands in the way."""

    lot: Lot
    review: ReviewState
    refusals: list[str]


def release_queue(session: Session) -> list[QueueItem]:
    """Lots awaiting QA: executed (review not started) and under review, oldest first."""
    lots = session.scalars(
        select(Lot).where(Lot.status.in_((LotStatus.EXECUTED, LotStatus.UNDER_REVIEW))).order_by(Lot.started_at)
    ).all()
    items = []
    for lot in lots:
        facts = gather(session, lot)
        items.append(QueueItem(lot, facts.review, checks.refusals(facts)))
    return items


def exceptions(session: Session, lot: Lot) -> ReviewReport:
    """The review-by-exception report of the lot (see app.release.report)."""
    return _exceptions(session, lot)


def start_review(session: Session, qa: User, lot: Lot) -> None:
    """QA takes an executed lot into review (Executed -> Under review)."""
    require_roles(qa, (QA,), "start the review of a lot")
    if lot.status != LotStatus.EXECUTED:
        raise RuleViolation(f"Lot {lot.lot_number} is {lot.status.replace('_', ' ')}; its review starts "
                            "once it is executed.")  # fmt: skip
    with refuse_concurrent(f"Lot {lot.lot_number} changed meanwhile; reload it."):
        with audit.action(session, "release.review_started", Actor.of(qa)):
            lot.status = LotStatus.UNDER_REVIEW


def sign_review(
    session: Session, qa: User, lot: Lot, credentials: Credentials, comment: str | None = None
) -> LotReview:
    """QA signs the review of the lot's record and its audit trail through the latest event."""
    require_roles(qa, (QA,), "sign the review of a lot")
    if lot.status != LotStatus.UNDER_REVIEW:
        raise RuleViolation(f"Lot {lot.lot_number} is {lot.status.replace('_', ' ')}; start its review first.")
    if current_review(session, lot).valid:
        raise RuleViolation(f"Lot {lot.lot_number} is already reviewed and nothing changed since.")
    last = session.execute(
        select(AuditEvent.id, AuditEvent.hash)
        .where(AuditEvent.lot_id == lot.id)
        .order_by(AuditEvent.id.desc())
        .limit(1)
    ).one()
    review = LotReview(lot_id=lot.id, through_event_id=last.id, through_event_hash=last.hash,
                       reviewed_by_id=qa.id, reviewed_at=utcnow())  # fmt: skip
    with audit.action(session, "release.review_signed", Actor.of(qa)):
        session.add(review)
    sign(session, qa, review, "reviewed", credentials, comment)
    return review


def release_refusals(session: Session, lot: Lot, signer: User | None = None) -> list[str]:
    """Every reason the lot cannot be released now, including the signer's own (if given)."""
    reasons = checks.refusals(gather(session, lot))
    if signer is not None and signer.id in (excluded := step_signers(session, lot.id)):
        reasons.append(excluded[signer.id])
    return reasons


def release(session: Session, qa: User, lot: Lot, credentials: Credentials, comment: str | None = None) -> Disposition:
    """QA releases the lot with an e-signature, or is told every reason it cannot."""
    require_roles(qa, (QA,), "release a lot")
    reasons = release_refusals(session, lot, signer=qa)
    if reasons:
        raise RuleViolation(f"Lot {lot.lot_number} cannot be released.", reasons=reasons)
    review = current_review(session, lot).review
    return _decide(session, qa, lot, Decision.RELEASED, credentials, comment, review)


def reject(session: Session, qa: User, lot: Lot, credentials: Credentials, comment: str | None) -> Disposition:
    """QA rejects the lot with an e-signature and a comment saying why."""
    require_roles(qa, (QA,), "reject a lot")
    facts = gather(session, lot)
    reasons = checks.status_reasons(facts)
    if not (comment or "").strip():
        reasons.append("A rejection needs a comment saying why the lot is rejected.")
    if (excluded := step_signers(session, lot.id)).get(qa.id):
        reasons.append(excluded[qa.id])
    if reasons:
        raise RuleViolation(f"Lot {lot.lot_number} cannot be rejected.", reasons=reasons)
    review = facts.review.review if facts.review.valid else None
    return _decide(session, qa, lot, Decision.REJECTED, credentials, comment, review)


def _decide(
    session: Session, qa: User, lot: Lot, decision: Decision, credentials: Credentials,
    comment: str | None, review: LotReview | None,
) -> Disposition:  # fmt: skip
    """Record the one decision, sign it and close the lot, all in the caller's transaction."""
    now = utcnow()
    disposition = Disposition(lot_id=lot.id, decision=decision, comment=(comment or "").strip() or None,
                              review_id=review.id if review else None, decided_by_id=qa.id, decided_at=now)  # fmt: skip
    lost = (f"Another QA decision on lot {lot.lot_number} was recorded at the same time; nothing of "
            "yours was saved. Reload the lot to see it.")  # fmt: skip
    with refuse_concurrent(lost, *_DISPOSITION_CONSTRAINTS):
        with audit.action(session, f"release.{decision}", Actor.of(qa)):
            session.add(disposition)
            session.flush()  # the unique lot_id refuses a concurrent second decision here
            sign(session, qa, disposition, decision.value, credentials, disposition.comment)
            lot.status = LotStatus(decision.value)
            lot.dispositioned_at = now
    for hook in DISPOSITION_HOOKS:  # e.g. app.documents queues the CoA and batch record
        hook(session, lot, qa)
    return disposition
