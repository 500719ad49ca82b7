"""Traceability inputs: which material lot and equipment were used, and when (21 CFR 211.188(b)).

Material and equipment IDs are checked against the template's bill of materials and equipment
types by checks.py; a timer's duration is compared with its limits in minutes.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from ..base import Reader
from ..values import (
    ACTION,
    WITHIN,
    InputError,
    LimitResult,
    duration_breach,
    parse_datetime,
    parse_identifier,
    parse_number,
)
from .base import InputDef, entered_text


@dataclass(frozen=True)
class QuantitySpec:
    """The unit and reported decimals of a material quantity."""

    unit: str
    decimals: int


@dataclass(frozen=True, kw_only=True)
class MaterialInput(InputDef):
    """A material lot used from the bill of materials, optionally with the quantity used."""

    type = "material"
    KEYS = ("bom", "quantity")
    REQUIRED = ("bom",)

    bom: str
    quantity: QuantitySpec | None = None

    def _convert(self, text: str) -> str:
        return parse_identifier(text, "a material lot ID")

    def validate_quantity(self, raw: str | None) -> Decimal | None:
        """Validate the quantity used (exactly as entered, greater than zero)."""
        if self.quantity is None:
            raise InputError("this material input records no quantity")
        text = entered_text(raw, self.required, "a quantity")
        if text is None:
            return None
        value = parse_number(text)
        if value <= 0:
            raise InputError(f"the quantity must be greater than zero, not {text}")
        return value

    @classmethod
    def params(cls, r: Reader) -> dict[str, Any]:
        bom = r.code("bom", example="SB431542")
        keys = ("unit", "decimals")
        sub = r.sub("quantity", f"{r.context} quantity", keys, keys)
        quantity = None
        if sub is not None:
            unit, decimals = sub.text("unit"), sub.integer("decimals", minimum=0)
            if unit is not None and decimals is not None:
                quantity = QuantitySpec(unit, decimals)
        return {"bom": bom, "quantity": quantity}


@dataclass(frozen=True, kw_only=True)
class EquipmentInput(InputDef):
    """The ID of the piece of equipment used, of a declared equipment type."""

    type = "equipment"
    KEYS = ("equipment_type",)
    REQUIRED = ("equipment_type",)

    equipment_type: str

    def _convert(self, text: str) -> str:
        return parse_identifier(text, "an equipment ID")

    @classmethod
    def params(cls, r: Reader) -> dict[str, Any]:
        return {"equipment_type": r.code("equipment_type", example="BSC")}


@dataclass(frozen=True, kw_only=True)
class DateTimeInput(InputDef):
    """A date and time (e.g. when a vial was removed from storage)."""

    type = "datetime"

    def _convert(self, text: str) -> datetime:
        return parse_datetime(text)


@dataclass(frozen=True, kw_only=True)
class TimerInput(InputDef):
    """A start and stop time ('START/STOP', ISO 8601 interval); duration limits in minutes."""

    type = "timer"
    KEYS = ("min_minutes", "max_minutes")

    min_minutes: int | None = None
    max_minutes: int | None = None

    def _convert(self, text: str) -> tuple[datetime, datetime]:
        start_text, slash, stop_text = text.partition("/")
        if not slash:
            raise InputError("give start and stop as START/STOP")
        start, stop = parse_datetime(start_text.strip()), parse_datetime(stop_text.strip())
        if (start.tzinfo is None) != (stop.tzinfo is None):
            raise InputError("give both times with a UTC offset, or neither")
        if stop < start:
            raise InputError("the stop time is before the start time")
        return start, stop

    def evaluate(self, value: tuple[datetime, datetime] | None) -> LimitResult:
        """Compare the exact duration (whole seconds) with the inclusive minute limits."""
        if value is None:
            return LimitResult(WITHIN)
        seconds = int((value[1] - value[0]).total_seconds())
        minutes = Decimal(seconds) / 60
        breach = duration_breach(seconds, self.min_minutes, self.max_minutes)
        if breach:
            return LimitResult(ACTION, minutes, f"duration {breach}")
        return LimitResult(WITHIN, minutes)

    @classmethod
    def params(cls, r: Reader) -> dict[str, Any]:
        p = {"min_minutes": r.integer("min_minutes", 0), "max_minutes": r.integer("max_minutes", 0)}
        if None not in p.values() and p["min_minutes"] > p["max_minutes"]:  # type: ignore[operator]
            r.problem(f"min_minutes {p['min_minutes']} is above max_minutes {p['max_minutes']}")
        return p
