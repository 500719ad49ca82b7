"""Recording values at a step: validated, compared with limits, never overwritten."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from app.audit import capture as audit
from app.audit.capture import Actor
from app.auth.models import User
from app.batches.models import Entry, LimitStatus, Lot, StepRecord, StepStatus
from app.batches.services.lots import check_workable
from app.common.errors import ConcurrentChange, RuleViolation
from app.common.timeutil import site_today, utcnow
from app.deviations.models import Category, Severity
from app.deviations.services import open_deviation
from app.inventory.services import consume, usable_equipment, usable_material_lot
from app.mbr.schema import EquipmentInput, InputDef, InputError, LimitResult, MaterialInput
from app.training.services import require_training


@dataclass(frozen=True)
class StepInput:
    """What the operator typed or scanned for one input of a step."""

    value: str | None = None
    quantity: str | None = None
    comment: str | None = None

    @property
    def blank(self) -> bool:
        return not (self.value or "").strip()


class EntryRefused(RuleViolation):
    """Some values were refused; nothing of the request was saved."""

    status = 400

    def __init__(self, field_errors: dict[str, str]):
        super().__init__("Nothing was saved: correct the marked fields.",
                         reasons=[f"{name}: {message}" for name, message in field_errors.items()])  # fmt: skip
        self.field_errors = field_errors


def conflict(step_code: str) -> ConcurrentChange:
    """The refusal of a save that lost the race against another user's save of the step."""
    return ConcurrentChange(
        f"Step {step_code} was changed by someone else while you were entering data. "
        "Nothing of yours was saved; reload the step, check what was recorded, then enter again."
    )


def check_version(step: StepRecord, expected_version: int | None) -> None:
    """Refuse a save based on an out-of-date page (someone else saved the step meanwhile)."""
    if expected_version is not None and step.version_id != expected_version:
        raise conflict(step.step_code)


def touch(step: StepRecord) -> None:
    """Force the step row's version up, so concurrent saves of one step are detected in the DB."""
    flag_modified(step, "started_at")


def _typed_value(value: Any) -> Decimal | None:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return None


def build_entry(
    session: Session, user: User, step: StepRecord, input_def: InputDef, raw: StepInput, today: date
) -> tuple[Entry, LimitResult]:
    """Validate one input into an unsaved Entry, checking material and equipment rules."""
    value = input_def.validate(raw.value)
    result = input_def.evaluate(value)
    comment = (raw.comment or "").strip() or None
    if result.action and not comment:
        raise InputError(f"{result.reason}. Explain in the comment; a deviation will be opened.")
    entry = Entry(
        lot_id=step.lot_id, step_record_id=step.id, input_name=input_def.name,
        value_text=(raw.value or "").strip(), value_decimal=_typed_value(value),
        unit=getattr(input_def, "unit", None), entered_by_id=user.id, entered_at=utcnow(),
        limit_status=LimitStatus(result.level), limit_message=result.reason or None, comment=comment,
    )  # fmt: skip
    if isinstance(input_def, MaterialInput):
        material = usable_material_lot(session, entry.value_text, input_def.bom, today)
        if input_def.quantity is not None:
            entry.quantity = input_def.validate_quantity(raw.quantity)
            entry.unit = input_def.quantity.unit
        consume(session, material, entry.quantity, Actor.of(user), unit=entry.unit)
        entry.material_lot_id = material.id
    elif isinstance(input_def, EquipmentInput):
        entry.equipment_id = usable_equipment(session, entry.value_text, input_def.equipment_type, today).id
    # Last, with no query after it before the caller adds the entry: keeps step.entries current.
    entry.step_record = step
    return entry, result


def open_limit_deviation(session: Session, user: User, lot: Lot, step: StepRecord, entry: Entry,
                         input_def: InputDef) -> None:  # fmt: skip
    """An action-limit excursion opens a deviation automatically, linked to the entry."""
    open_deviation(
        session, Actor.of(user), lot.id, Category.LIMIT, Severity.MAJOR,
        f"Action limit: {input_def.label} at step {step.step_code}",
        f"{entry.limit_message}. Operator comment: {entry.comment}",
        automatic=True, step_record_id=step.id, entry_id=entry.id, opened_by=user,
    )  # fmt: skip


def save_entries(
    session: Session, user: User, step: StepRecord, inputs: dict[str, StepInput],
    expected_version: int | None,
) -> list[Entry]:  # fmt: skip
    """Record the values given for inputs not yet recorded; all are saved or none."""
    lot, code = step.lot, step.step_code
    check_workable(lot, step)
    if step.status in (StepStatus.AWAITING_VERIFICATION, StepStatus.COMPLETE):
        raise RuleViolation(f"Step {code} is signed; change a value with a correction.")
    check_version(step, expected_version)
    require_training(session, user, lot.template_version.code, site_today())
    step_def = lot.template_version.definition.step(step.step_code)
    recorded = {e.input_name for e in step.current_entries}
    todo = [i for i in step_def.inputs if i.name not in recorded and not inputs.get(i.name, StepInput()).blank]
    saved: list[tuple[Entry, LimitResult, InputDef]] = []
    errors: dict[str, str] = {}
    try:
        with audit.action(session, "step.entries_recorded", Actor.of(user), step=step.step_code):
            for input_def in todo:
                try:
                    entry, result = build_entry(session, user, step, input_def, inputs[input_def.name], site_today())
                except (InputError, RuleViolation) as exc:
                    errors[input_def.name] = getattr(exc, "message", None) or str(exc)
                    continue
                session.add(entry)
                saved.append((entry, result, input_def))
            if errors:
                raise EntryRefused(errors)
            step.status = StepStatus.IN_PROGRESS
            step.started_at = step.started_at or utcnow()
            touch(step)
    except StaleDataError:  # another save won between our read and our write
        raise conflict(code) from None
    for entry, result, input_def in saved:
        if result.action:
            open_limit_deviation(session, user, lot, step, entry, input_def)
    return [entry for entry, _, _ in saved]
