"""Starting lots, numbering them, and which steps may be done now."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit import capture as audit
from app.audit.capture import Actor
from app.auth.models import User
from app.auth.roles import SUPERVISOR
from app.batches.models import Lot, LotStatus, StepRecord, StepStatus
from app.batches.services.labels import assign_din
from app.common.errors import NotFound, NotPermitted, RuleViolation
from app.common.sequences import next_number
from app.common.timeutil import site_today, utcnow
from app.mbr.models import TemplateStatus, TemplateVersion
from app.mbr.services import effective_versions, in_force


def lot_number(session: Session, version: TemplateVersion, pattern: str) -> str:
    """The next lot number of the product from the template's (or the site's) pattern."""
    now = utcnow()
    seq = next_number(session, f"lot:{version.code}", now.year)
    pattern = version.definition.lot_number_pattern or pattern
    try:
        return pattern.format(product=version.product, code=version.code, yyyy=now.year,
                              yy=f"{now.year % 100:02d}", seq=seq)  # fmt: skip
    except (KeyError, IndexError, ValueError) as exc:
        raise RuleViolation(f"The lot number pattern {pattern!r} is invalid: {exc}") from None


def start_lot(
    session: Session, supervisor: User, version: TemplateVersion, starting_material: str,
    pattern: str, fin: str | None = None,
) -> Lot:  # fmt: skip
    """Start a lot on an Effective template version; it stays bound to that version for life.

    With the site's ISBT 128 FIN the lot also gets its Donation Identification Number, once.
    """
    if not supervisor.has_role(SUPERVISOR):
        raise NotPermitted("Only a production supervisor starts a lot.")
    if version.status != TemplateStatus.EFFECTIVE or not in_force(version):
        raise RuleViolation(f"{version.label} is not in force; lots start only on the Effective version in force.")
    if not (starting_material or "").strip():
        raise RuleViolation("Record the starting material (working cell bank vial lot).", status=400)
    lot = Lot(
        lot_number=lot_number(session, version, pattern), product=version.product,
        template_version_id=version.id, started_by_id=supervisor.id,
        starting_material=starting_material.strip(), status=LotStatus.IN_PROGRESS,
        isbt128_din=assign_din(session, fin, site_today().year),
    )  # fmt: skip
    lot.template_version = version
    with audit.action(session, "lot.started", Actor.of(supervisor)):
        session.add(lot)
        session.flush()
        for seq, step in enumerate(version.definition.steps, start=1):
            session.add(StepRecord(lot=lot, lot_id=lot.id, step_code=step.code, seq=seq))
    return lot


def startable_versions(session: Session) -> list[TemplateVersion]:
    """The template versions in force now, one per code: what a supervisor may start."""
    return effective_versions(session, TemplateVersion)


def get_lot(session: Session, lot_id: int) -> Lot:
    lot = session.get(Lot, lot_id)
    if lot is None:
        raise NotFound("No such lot.")
    return lot


def get_step(session: Session, lot_id: int, step_id: int) -> StepRecord:
    step = session.get(StepRecord, step_id)
    if step is None or step.lot_id != lot_id:
        raise NotFound("No such step in this lot.")
    return step


def lots_in_progress(session: Session) -> list[Lot]:
    return list(session.scalars(
        select(Lot).where(Lot.status == LotStatus.IN_PROGRESS).order_by(Lot.started_at.desc())
    ))  # fmt: skip


def blocking_steps(lot: Lot, step: StepRecord) -> list[str]:
    """Codes of the prerequisites of `step` that are not complete yet."""
    by_code = {s.step_code: s for s in lot.steps}
    prerequisites = lot.template_version.definition.step(step.step_code).prerequisites
    return [code for code in prerequisites if by_code[code].status != StepStatus.COMPLETE]


def available_steps(lot: Lot) -> list[StepRecord]:
    """Steps that can be worked on now: not complete and every prerequisite complete."""
    if lot.status != LotStatus.IN_PROGRESS:
        return []
    return [s for s in lot.steps if s.status != StepStatus.COMPLETE and not blocking_steps(lot, s)]


def check_workable(lot: Lot, step: StepRecord) -> None:
    """Refuse work on a closed lot or on a step whose prerequisites are not complete."""
    if lot.status != LotStatus.IN_PROGRESS:
        raise RuleViolation(f"Lot {lot.lot_number} is {lot.status.replace('_', ' ')}; no step can be recorded.")
    missing = blocking_steps(lot, step)
    if missing:
        raise RuleViolation(
            f"Step {step.step_code} cannot be done yet: complete {', '.join(missing)} first.",
            reasons=[f"{code} is not complete" for code in missing],
        )  # fmt: skip
