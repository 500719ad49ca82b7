"""The parsed master batch record: frozen records, ISA-88 procedure -> unit procedure ->
operation -> step, plus the bill of materials, equipment types and yield stages."""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from functools import cached_property
from typing import Any

from app.common.rounding import usp_round

from .base import Located
from .inputs import InputDef
from .values import ACTION, WITHIN, LimitResult, duration_breach

#: Version of the parsed structure stored by later modules (bump when to_dict changes shape).
FORMAT_VERSION = 2
PERFORMED, VERIFIED = "performed", "verified"


@dataclass(frozen=True, kw_only=True)
class BomItem(Located):
    """A component on the bill of materials (21 CFR 211.186(b)(1))."""

    code: str
    name: str
    unit: str
    quantity_per_lot: Decimal | None = None


@dataclass(frozen=True, kw_only=True)
class EquipmentType(Located):
    """A kind of equipment a step records the ID of (e.g. a biosafety cabinet)."""

    code: str
    name: str


@dataclass(frozen=True, kw_only=True)
class YieldStage(Located):
    """A theoretical yield with the min/max % beyond which QA investigates (211.186(b)(7))."""

    code: str
    name: str
    theoretical: Decimal
    unit: str
    min_percent: Decimal
    max_percent: Decimal
    actual_from: str

    @property
    def percent_decimals(self) -> int:
        """Return the decimals of the written % limits, the reported precision of the yield."""
        return max(0, -int(self.min_percent.as_tuple().exponent), -int(self.max_percent.as_tuple().exponent))

    def evaluate(self, actual: Decimal) -> LimitResult:
        """Compare actual/theoretical % (USP-rounded to the limits' decimals) with min/max."""
        percent = usp_round(actual * 100 / self.theoretical, self.percent_decimals)
        if percent < self.min_percent or percent > self.max_percent:
            reason = f"yield {percent} % is outside {self.min_percent}-{self.max_percent} %"
            return LimitResult(ACTION, percent, reason)
        return LimitResult(WITHIN, percent)


@dataclass(frozen=True, kw_only=True)
class SamplingDef(Located):
    """A sample a step takes: for QC release testing or as an in-process control (IPC)."""

    sample: str
    test: str
    quantity: Decimal
    unit: str
    purpose: str


@dataclass(frozen=True, kw_only=True)
class HoldWindow(Located):
    """Time allowed from completion of step `after` to completion of the owning step."""

    after: str
    min_minutes: int | None = None
    max_minutes: int | None = None

    def evaluate(self, elapsed: timedelta) -> LimitResult:
        """Compare the exact elapsed time (whole seconds) with the inclusive window."""
        seconds = int(elapsed.total_seconds())
        breach = duration_breach(seconds, self.min_minutes, self.max_minutes)
        if breach:
            return LimitResult(ACTION, Decimal(seconds) / 60, f"hold after {self.after}: {breach}")
        return LimitResult(WITHIN, Decimal(seconds) / 60)


@dataclass(frozen=True, kw_only=True)
class StepDef(Located):
    """One step: instruction, inputs, signatures, prerequisites, hold windows, samples."""

    code: str
    title: str
    instruction: str
    unit_procedure: str
    operation: str
    inputs: tuple[InputDef, ...] = ()
    critical: bool = False
    requires: tuple[str, ...] | None = None  # as written; None = default (previous step)
    prerequisites: tuple[str, ...] = ()  # resolved: steps that must be complete first
    hold: tuple[HoldWindow, ...] = ()
    sampling: tuple[SamplingDef, ...] = ()

    @property
    def signatures(self) -> tuple[str, ...]:
        """Return the signature meanings required: performed, plus verified when critical."""
        return (PERFORMED, VERIFIED) if self.critical else (PERFORMED,)

    def input(self, name: str) -> InputDef:
        """Return the input called `name`; KeyError when there is none."""
        for item in self.inputs:
            if item.name == name:
                return item
        raise KeyError(f"step {self.code} has no input {name!r}")

    def to_dict(self) -> dict[str, Any]:
        """Return the step as JSON data, with its resolved signatures."""
        return {**super().to_dict(), "signatures": list(self.signatures)}


@dataclass(frozen=True, kw_only=True)
class OperationDef(Located):
    """An operation: an ordered list of steps within a unit procedure."""

    code: str
    name: str
    steps: tuple[StepDef, ...] = ()


@dataclass(frozen=True, kw_only=True)
class UnitProcedureDef(Located):
    """A unit procedure: ordered operations (e.g. 'WCB thaw and iPSC expansion')."""

    code: str
    name: str
    operations: tuple[OperationDef, ...] = ()

    @property
    def steps(self) -> tuple[StepDef, ...]:
        """Return the steps of all operations, in template order."""
        return tuple(step for op in self.operations for step in op.steps)


@dataclass(frozen=True, kw_only=True)
class TemplateDef(Located):
    """One master batch record version, as parsed and validated."""

    code: str
    version: int
    title: str
    product: str
    description: str
    lot_number_pattern: str | None = None
    #: ISBT 128 product code of the product (8 characters, 'S' for cellular therapy), if licensed.
    isbt128_product_code: str | None = None
    bill_of_materials: tuple[BomItem, ...] = ()
    equipment_types: tuple[EquipmentType, ...] = ()
    yield_stages: tuple[YieldStage, ...] = ()
    unit_procedures: tuple[UnitProcedureDef, ...] = ()

    @cached_property
    def steps(self) -> tuple[StepDef, ...]:
        """Return all steps, flat, in template order."""
        return tuple(step for up in self.unit_procedures for step in up.steps)

    @cached_property
    def _steps_by_code(self) -> dict[str, StepDef]:
        return {step.code: step for step in reversed(self.steps)}  # first definition wins

    def step(self, code: str) -> StepDef:
        """Return the step with `code`; KeyError when there is none."""
        try:
            return self._steps_by_code[code]
        except KeyError:
            raise KeyError(f"template {self.code} has no step {code!r}") from None

    def resolve_input(self, reference: str) -> tuple[StepDef, InputDef]:
        """Resolve a 'STEP.input' reference; KeyError when it names nothing."""
        step_code, _, name = reference.rpartition(".")
        step = self.step(step_code)
        return step, step.input(name)

    def to_dict(self) -> dict[str, Any]:
        """Return the template as JSON data for storage (Decimals as strings)."""
        return {"format": FORMAT_VERSION, **super().to_dict()}
