"""Signing steps as performed and verified; hold times, yields and lot completion."""

from __future__ import annotations

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.audit import capture as audit
from app.audit.capture import Actor
from app.auth.models import User
from app.batches.models import Lot, LotStatus, StepRecord, StepStatus
from app.batches.services.entries import check_version, conflict, save_entries, touch
from app.batches.services.lots import check_workable
from app.common.errors import RuleViolation
from app.common.timeutil import site_today, utcnow
from app.deviations.models import Category, Severity
from app.deviations.services import open_deviation
from app.mbr.schema import StepDef
from app.signatures.services import Credentials, sign
from app.training.services import require_training


def complete_step(
    session: Session, user: User, step: StepRecord, credentials: Credentials,
    expected_version: int | None, comment: str | None = None,
) -> None:  # fmt: skip
    """Sign a step as performed: every required value recorded, holds and yields checked."""
    lot = step.lot
    check_workable(lot, step)
    if step.status in (StepStatus.AWAITING_VERIFICATION, StepStatus.COMPLETE):
        raise RuleViolation(f"Step {step.step_code} is already signed as performed.")
    check_version(step, expected_version)
    require_training(session, user, lot.template_version.code, site_today())
    _sign_performed(session, user, step, credentials, comment)


def _sign_performed(session: Session, user: User, step: StepRecord, credentials: Credentials,
                    comment: str | None) -> None:  # fmt: skip
    """The performer's signature and what follows it, once the step may be worked on by `user`."""
    lot, code = step.lot, step.step_code
    step_def = lot.template_version.definition.step(step.step_code)
    recorded = {e.input_name for e in step.current_entries}
    missing = [i for i in step_def.inputs if i.required and i.name not in recorded]
    if missing:
        error = RuleViolation("Record every required value before signing.", reasons=[i.label for i in missing],
                              status=400)  # fmt: skip
        error.field_errors = {i.name: "Required before signing." for i in missing}  # shown at each field
        raise error
    sign(session, user, step, "performed", credentials, comment)
    first_completion = step.completed_at is None
    try:
        with audit.action(session, "step.performed", Actor.of(user), step=step.step_code):
            step.performed_by_id = user.id
            step.completed_at = step.completed_at or utcnow()
            step.status = StepStatus.AWAITING_VERIFICATION if step_def.critical else StepStatus.COMPLETE
            touch(step)
    except StaleDataError:  # another save won between our read and our write
        raise conflict(code) from None
    if first_completion:
        _check_holds(session, user, lot, step, step_def)
    _check_yields(session, user, lot, step)
    _close_execution_if_done(session, user, lot)


def verify_step(
    session: Session, user: User, step: StepRecord, credentials: Credentials,
    expected_version: int | None, comment: str | None = None,
) -> None:  # fmt: skip
    """A second person verifies a critical step (never the performer: the signing rule says so)."""
    lot, code = step.lot, step.step_code
    if step.status != StepStatus.AWAITING_VERIFICATION:
        raise RuleViolation(f"Step {step.step_code} is not awaiting verification.")
    if lot.status != LotStatus.IN_PROGRESS:
        raise RuleViolation(f"Lot {lot.lot_number} is {lot.status.replace('_', ' ')}.")
    check_version(step, expected_version)
    require_training(session, user, lot.template_version.code, site_today())
    sign(session, user, step, "verified", credentials, comment)
    try:
        with audit.action(session, "step.verified", Actor.of(user), step=step.step_code):
            step.verified_by_id = user.id
            step.status = StepStatus.COMPLETE
            touch(step)
    except StaleDataError:  # another save won between our read and our write
        raise conflict(code) from None
    _close_execution_if_done(session, user, lot)


def _check_holds(session: Session, user: User, lot: Lot, step: StepRecord, step_def: StepDef) -> None:
    """A step outside its hold window keeps its true time and opens a deviation."""
    by_code = {s.step_code: s for s in lot.steps}
    for window in step_def.hold:
        reference = by_code[window.after]
        if reference.completed_at is None:
            continue
        result = window.evaluate(step.completed_at - reference.completed_at)
        if result.action:
            open_deviation(
                session, Actor.of(user), lot.id, Category.HOLD_TIME, Severity.MAJOR,
                f"Hold time: {step.step_code} after {window.after}",
                f"Step {step.step_code} was completed outside its window: {result.reason}.",
                automatic=True, step_record_id=step.id, opened_by=user,
            )  # fmt: skip


def _check_yields(session: Session, user: User, lot: Lot, step: StepRecord) -> None:
    """Yield outside the template's range opens a deviation (21 CFR 211.192)."""
    for stage in lot.template_version.definition.yield_stages:
        step_code, _, name = stage.actual_from.rpartition(".")
        entry = next((e for e in step.current_entries if e.input_name == name), None)
        if step_code != step.step_code or entry is None or entry.value_decimal is None:
            continue
        result = stage.evaluate(entry.value_decimal)
        if result.action:
            open_deviation(
                session, Actor.of(user), lot.id, Category.YIELD, Severity.MAJOR,
                f"Yield outside range: {stage.name}",
                f"{stage.name}: {result.reason} (theoretical {stage.theoretical} {stage.unit}).",
                automatic=True, step_record_id=step.id, entry_id=entry.id, opened_by=user,
            )  # fmt: skip


def _close_execution_if_done(session: Session, user: User, lot: Lot) -> None:
    """When the last step is complete the lot is Executed (and awaits QA review)."""
    if lot.status == LotStatus.IN_PROGRESS and all(s.status == StepStatus.COMPLETE for s in lot.steps):
        with audit.action(session, "lot.executed", Actor.of(user)):
            lot.status = LotStatus.EXECUTED
            lot.executed_at = utcnow()


def record_and_sign(
    session: Session, user: User, step: StepRecord, inputs: dict, expected_version: int | None,
    credentials: Credentials, comment: str | None = None,
) -> None:  # fmt: skip
    """Save the values just entered and sign the step as performed, in one act."""
    # save_entries checked what complete_step checks first (lot and step open, prerequisites, the
    # page's version, training); only the signature's own rules remain.
    save_entries(session, user, step, inputs, expected_version)
    _sign_performed(session, user, step, credentials, comment)
