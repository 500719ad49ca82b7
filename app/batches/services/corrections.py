"""Corrections: a new entry with a reason; the old one stays visible, signatures re-done."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.audit import capture as audit
from app.audit.capture import Actor
from app.auth.models import User
from app.batches.models import Entry, LotStatus, StepRecord, StepStatus
from app.batches.services.entries import StepInput, build_entry, open_limit_deviation, touch
from app.common.errors import NotFound, RuleViolation
from app.common.timeutil import site_today
from app.mbr.schema import InputError
from app.training.services import require_training

_CLOSED = (LotStatus.RELEASED, LotStatus.REJECTED)


def get_entry(session: Session, entry_id: int) -> Entry:
    entry = session.get(Entry, entry_id)
    if entry is None:
        raise NotFound("No such entry.")
    return entry


def correct_entry(session: Session, user: User, entry: Entry, new: StepInput, reason: str) -> Entry:
    """Record a corrected value; the step must be signed again and the lot is back in progress."""
    step: StepRecord = entry.step_record
    lot = step.lot
    if lot.status in _CLOSED:
        raise RuleViolation(f"Lot {lot.lot_number} is {lot.status}; its record can no longer change.")
    if entry.superseded_by_id is not None:
        raise RuleViolation("This value was already corrected; correct the current value instead.")
    if not (reason or "").strip():
        raise RuleViolation("A correction needs a reason (Annex 11 §9).", status=400)
    if (new.value or "").strip() == entry.value_text and (new.quantity or None) == (
        str(entry.quantity) if entry.quantity is not None else None
    ):
        raise RuleViolation("The corrected value is the same as the recorded one.", status=400)
    require_training(session, user, lot.template_version.code, site_today())
    input_def = lot.template_version.definition.step(step.step_code).input(entry.input_name)
    with audit.action(session, "entry.corrected", Actor.of(user), reason=reason.strip(), step=step.step_code):
        try:
            corrected, result = build_entry(session, user, step, input_def, new, site_today())
        except InputError as exc:
            raise RuleViolation(f"{input_def.label}: {exc}", status=400) from None
        corrected.corrects_id = entry.id
        corrected.correction_reason = reason.strip()
        session.add(corrected)
        session.flush()
        entry.superseded_by_id = corrected.id
        _reopen(step, lot)
    if result.action:
        open_limit_deviation(session, user, lot, step, corrected, input_def)
    return corrected


def _reopen(step: StepRecord, lot) -> None:  # type: ignore[no-untyped-def]
    """A changed record must be signed again; a finished lot goes back to execution."""
    if step.status != StepStatus.PENDING:
        step.status = StepStatus.IN_PROGRESS
        step.performed_by_id = None
        step.verified_by_id = None
    touch(step)
    if lot.status in (LotStatus.EXECUTED, LotStatus.UNDER_REVIEW):
        lot.status = LotStatus.IN_PROGRESS
        lot.executed_at = None
