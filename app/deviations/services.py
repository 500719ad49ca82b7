"""Opening, investigating and closing deviations (21 CFR 211.192; Annex 11 §9)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from app.audit import capture as audit
from app.audit.capture import Actor
from app.auth.models import User
from app.auth.permissions import require_roles
from app.auth.roles import OPERATOR, QA, QC_ANALYST, SUPERVISOR
from app.batches.models import Entry, Lot, LotStatus, StepRecord
from app.common.db import lock_row
from app.common.errors import NotFound, RuleViolation
from app.common.sequences import next_number
from app.common.timeutil import utcnow
from app.deviations.models import Category, Deviation, DeviationStatus, Severity
from app.signatures.services import Credentials, sign

#: Anyone on the floor or in the labs may report a deviation; supervisors and QA investigate.
REPORTERS = (OPERATOR, SUPERVISOR, QC_ANALYST, QA)
INVESTIGATORS = (SUPERVISOR, QA)


def _number(session: Session) -> str:
    year = utcnow().year
    return f"DEV-{year}-{next_number(session, 'deviation', year):04d}"


def open_deviation(
    session: Session, actor: Actor, lot_id: int, category: Category, severity: Severity,
    title: str, description: str, *, automatic: bool = False, step_record_id: int | None = None,
    entry_id: int | None = None, qc_result_id: int | None = None, opened_by: User | None = None,
) -> Deviation:  # fmt: skip
    """Record a deviation on a lot (automatic ones are opened by the rule that found them)."""
    if not (title or "").strip() or not (description or "").strip():
        raise RuleViolation("A deviation needs a title and a description.", status=400)
    deviation = Deviation(
        number=_number(session), lot_id=lot_id, category=Category(category),
        severity=Severity(severity), title=title.strip()[:200], description=description.strip(),
        automatic=automatic, step_record_id=step_record_id, entry_id=entry_id,
        qc_result_id=qc_result_id, opened_by_id=opened_by.id if opened_by else None,
    )  # fmt: skip
    with audit.action(session, "deviation.opened", actor):
        session.add(deviation)
    return deviation


def get(session: Session, deviation_id: int) -> Deviation:
    deviation = session.get(Deviation, deviation_id)
    if deviation is None:
        raise NotFound("No such deviation.")
    return deviation


def record_investigation(
    session: Session, user: User, deviation: Deviation, root_cause: str, impact: str,
    capa_ref: str | None, reason: str | None = None,
) -> None:  # fmt: skip
    """Record root cause, product impact and CAPA; changing what was written needs a reason."""
    require_roles(user, INVESTIGATORS, "investigate deviations")
    lock_row(session, deviation)  # two investigators at once: the second sees the first's entry
    if deviation.status == DeviationStatus.CLOSED:
        raise RuleViolation(f"{deviation.number} is closed; open a new deviation instead.")
    if not (root_cause or "").strip() or not (impact or "").strip():
        raise RuleViolation("Root cause and impact on the product are both required.", status=400)
    first_entry = deviation.root_cause is None and deviation.impact is None
    why = "first entry of the investigation" if first_entry else reason
    with audit.action(session, "deviation.investigated", Actor.of(user), reason=why):
        deviation.root_cause = root_cause.strip()
        deviation.impact = impact.strip()
        deviation.capa_ref = (capa_ref or "").strip() or None
        deviation.status = DeviationStatus.INVESTIGATION


def close(session: Session, qa_user: User, deviation: Deviation, credentials: Credentials,
          comment: str | None = None) -> None:  # fmt: skip
    """QA closes an investigated deviation with an e-signature (meaning approved)."""
    lock_row(session, deviation)  # two QA users at once: one closes, the other is told
    if deviation.status == DeviationStatus.CLOSED:
        raise RuleViolation(f"{deviation.number} is already closed.")
    if deviation.status != DeviationStatus.INVESTIGATION:
        raise RuleViolation("Record the investigation (root cause, impact) before closing.")
    sign(session, qa_user, deviation, "approved", credentials, comment)
    with audit.action(session, "deviation.closed", Actor.of(qa_user)):
        deviation.status = DeviationStatus.CLOSED
        deviation.closed_at = utcnow()
        deviation.closed_by_id = qa_user.id


def for_lot(session: Session, lot_id: int) -> list[Deviation]:
    return list(session.scalars(select(Deviation).where(Deviation.lot_id == lot_id).order_by(Deviation.id)))


def open_for_lot(session: Session, lot_id: int) -> list[Deviation]:
    return [d for d in for_lot(session, lot_id) if d.is_open]


def raise_manual(
    session: Session, user: User, lot_id: int, category: Category | str, severity: Severity | str,
    title: str, description: str,
) -> Deviation:  # fmt: skip
    """A person reports a deviation on a lot that is not yet dispositioned."""
    require_roles(user, REPORTERS, "raise deviations")
    lot = session.get(Lot, lot_id)
    if lot is None:
        raise NotFound("No such lot.")
    if lot.status in (LotStatus.RELEASED, LotStatus.REJECTED):
        # After disposition a problem is a complaint or a recall matter, not a batch deviation.
        raise RuleViolation(f"Lot {lot.lot_number} is {lot.status.value}; deviations are raised only "
                            "before QA's disposition. Report the problem to QA.")  # fmt: skip
    try:
        category, severity = Category(category), Severity(severity)
    except ValueError:
        raise RuleViolation("Choose a category and a severity from the lists.", status=400) from None
    return open_deviation(session, Actor.of(user), lot.id, category, severity, title, description,
                          opened_by=user)  # fmt: skip


def open_lots(session: Session) -> list[Lot]:
    """Lots a deviation can still be raised on (not released or rejected), newest first."""
    query = select(Lot).where(Lot.status.not_in([LotStatus.RELEASED, LotStatus.REJECTED]))
    return list(session.scalars(query.order_by(Lot.started_at.desc())))


_SEVERITY_RANK = case({Severity.CRITICAL.value: 0, Severity.MAJOR.value: 1}, value=Deviation.severity, else_=2)


def search(
    session: Session, status: DeviationStatus | str | None = None, lot_number: str | None = None
) -> list[tuple[Deviation, str]]:
    """Deviations with their lot number: open ones first, then by severity, newest first."""
    query = (select(Deviation, Lot.lot_number).join(Lot, Lot.id == Deviation.lot_id)
             .order_by(case((Deviation.status == DeviationStatus.CLOSED, 1), else_=0), _SEVERITY_RANK,
                       Deviation.opened_at.desc(), Deviation.id.desc()))  # fmt: skip
    if status:
        query = query.where(Deviation.status == DeviationStatus(status))
    if lot_number and lot_number.strip():
        query = query.where(Lot.lot_number.ilike(f"%{lot_number.strip()}%"))
    return [(row[0], row[1]) for row in session.execute(query)]


@dataclass(frozen=True)
class DeviationLinks:
    """The records a deviation points at, loaded for its page."""

    lot: Lot
    step: StepRecord | None
    entry: Entry | None
    opened_by: User | None
    closed_by: User | None


def links(session: Session, deviation: Deviation) -> DeviationLinks:
    def load(model: type, key: int | None):  # type: ignore[no-untyped-def]
        return session.get(model, key) if key is not None else None

    return DeviationLinks(lot=session.get(Lot, deviation.lot_id), step=load(StepRecord, deviation.step_record_id),
                          entry=load(Entry, deviation.entry_id), opened_by=load(User, deviation.opened_by_id),
                          closed_by=load(User, deviation.closed_by_id))  # fmt: skip
