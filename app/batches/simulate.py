"""Development and test only: execute a lot through the real services with in-limit values.

Used by `flask seed-demo` (lots at realistic points) and by the tests that run whole shipped
templates. It signs as real users with their passwords and moves a simulated clock forward so
hold windows are met; it never writes around a service.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit import capture as audit
from app.audit.capture import Actor
from app.auth.models import User
from app.batches.models import Lot, StepRecord, StepStatus
from app.batches.services import StepInput, available_steps, record_and_sign, verify_step
from app.common.timeutil import site_zone, utcnow
from app.inventory.models import Equipment, EquipmentStatus, MaterialLot, MaterialStatus
from app.mbr.schema import (
    ChoiceInput,
    DateTimeInput,
    DecimalInput,
    EquipmentInput,
    InputDef,
    IntegerInput,
    MaterialInput,
    StepDef,
    TemplateDef,
    TimerInput,
    YesNoInput,
)
from app.signatures.services import Credentials

SYSTEM = Actor.system("simulated execution (demo/test data)")


def _middle(low: Decimal | None, high: Decimal | None, decimals: int) -> Decimal:
    quantum = Decimal(1).scaleb(-decimals)
    if low is not None and high is not None:
        return ((low + high) / 2).quantize(quantum)
    if low is not None:
        return (low + abs(low) / 10 + quantum).quantize(quantum)
    if high is not None:
        return (high - abs(high) / 10 - quantum).quantize(quantum)
    return Decimal(1).quantize(quantum)


def _decimal_value(item: DecimalInput) -> Decimal:
    alert, action = item.alert, item.action
    low = next((v for v in (alert and alert.min, action and action.min, item.min) if v is not None), None)
    high = next((v for v in (alert and alert.max, action and action.max, item.max) if v is not None), None)
    return _middle(low, high, item.decimals)


def _local(moment: datetime) -> str:
    return moment.astimezone(site_zone()).strftime("%Y-%m-%dT%H:%M:%S")


class Autopilot:
    """Executes available steps of a lot: `performer` signs, `verifier` verifies."""

    def __init__(self, session: Session, performer: User, verifier: User, password: str,
                 clock: Callable[[datetime], None]) -> None:  # fmt: skip
        self.session, self.performer, self.verifier = session, performer, verifier
        self.password, self.clock = password, clock

    def _credentials(self, user: User) -> Credentials:
        return Credentials(self.password, user.username, True, True, "127.0.0.1")

    def value_for(self, definition: TemplateDef, step: StepDef, item: InputDef) -> StepInput:
        """An in-limit value for one input, creating usable materials and equipment as needed."""
        yield_stage = next((y for y in definition.yield_stages if y.actual_from == f"{step.code}.{item.name}"), None)
        if yield_stage is not None:
            percent = (yield_stage.min_percent + yield_stage.max_percent) / 2
            decimals = getattr(item, "decimals", 0) or 0
            return StepInput(str((yield_stage.theoretical * percent / 100).quantize(Decimal(1).scaleb(-decimals))))
        if isinstance(item, DecimalInput):
            return StepInput(str(_decimal_value(item)))
        if isinstance(item, IntegerInput):
            low, high = item.min if item.min is not None else 1, item.max if item.max is not None else 10
            return StepInput(str((low + high) // 2))
        if isinstance(item, ChoiceInput):
            bad = set(item.alert_options) | set(item.action_options)
            return StepInput(next(o for o in item.options if o not in bad))
        if isinstance(item, YesNoInput):
            return StepInput(getattr(item, "expected", None) or "yes")
        if isinstance(item, MaterialInput):
            quantity = None
            if item.quantity is not None:
                quantity = str(Decimal(1).quantize(Decimal(1).scaleb(-item.quantity.decimals)))
            return StepInput(self._material(item.bom).lot_code, quantity)
        if isinstance(item, EquipmentInput):
            return StepInput(self._equipment(item.equipment_type).code)
        if isinstance(item, TimerInput):
            minutes = item.min_minutes if item.min_minutes is not None else 1
            if item.max_minutes is not None:
                minutes = (minutes + item.max_minutes) // 2
            now = utcnow()
            return StepInput(f"{_local(now - timedelta(minutes=minutes))}/{_local(now)}")
        if isinstance(item, DateTimeInput):
            return StepInput(_local(utcnow()))
        return StepInput("Done as per SOP.")

    def _material(self, bom: str) -> MaterialLot:
        found = self.session.scalar(select(MaterialLot).where(
            MaterialLot.item_code == bom, MaterialLot.status == MaterialStatus.RELEASED,
            MaterialLot.expiry_date > (utcnow() + timedelta(days=60)).date()))  # fmt: skip
        if found is not None:
            return found
        lot = MaterialLot(lot_code=f"SIM-{bom}", item_code=bom, name=bom, supplier="Simulated supplier",
                          supplier_lot=f"S-{bom}", status=MaterialStatus.RELEASED,
                          expiry_date=(utcnow() + timedelta(days=365)).date(), unit="unit")  # fmt: skip
        with audit.action(self.session, "material.received", SYSTEM):
            self.session.add(lot)
        return lot

    def _equipment(self, type_code: str) -> Equipment:
        found = self.session.scalar(select(Equipment).where(
            Equipment.type_code == type_code, Equipment.status == EquipmentStatus.ACTIVE,
            Equipment.calibration_due > (utcnow() + timedelta(days=60)).date()))  # fmt: skip
        if found is not None:
            return found
        item = Equipment(code=f"SIM-{type_code}", type_code=type_code, name=type_code,
                         calibration_due=(utcnow() + timedelta(days=365)).date())  # fmt: skip
        with audit.action(self.session, "equipment.registered", SYSTEM):
            self.session.add(item)
        return item

    def earliest(self, lot: Lot, record: StepRecord) -> datetime:
        """The earliest moment the step's hold windows allow (at least 5 minutes from now)."""
        step = lot.template_version.definition.step(record.step_code)
        by_code = {s.step_code: s for s in lot.steps}
        earliest = utcnow() + timedelta(minutes=5)
        for window in step.hold:
            done = by_code[window.after].completed_at
            if done is not None and window.min_minutes:
                earliest = max(earliest, done + timedelta(minutes=window.min_minutes, seconds=30))
        return earliest

    def do_step(self, lot: Lot, record: StepRecord, overrides: dict[str, StepInput] | None = None) -> None:
        """Record every input (in-limit unless overridden) and sign; verify when critical."""
        definition = lot.template_version.definition
        step = definition.step(record.step_code)
        self.clock(self.earliest(lot, record))
        recorded = {e.input_name for e in record.current_entries}
        inputs = {i.name: self.value_for(definition, step, i) for i in step.inputs if i.name not in recorded}
        inputs.update(overrides or {})
        if record.status != StepStatus.AWAITING_VERIFICATION:
            record_and_sign(self.session, self.performer, record, inputs, record.version_id,
                            self._credentials(self.performer))  # fmt: skip
        if record.status == StepStatus.AWAITING_VERIFICATION:
            self.clock(utcnow() + timedelta(minutes=2))
            verify_step(self.session, self.verifier, record, self._credentials(self.verifier), record.version_id)

    def run(self, lot: Lot, steps: int | None = None) -> int:
        """Execute up to `steps` available steps (all when None); return how many were done."""
        done = 0
        while steps is None or done < steps:
            todo = available_steps(lot)
            if not todo:
                break
            self.do_step(lot, todo[0])
            self.session.commit()
            done += 1
        return done
