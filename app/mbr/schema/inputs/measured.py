"""Measured inputs: numbers with a unit, hard bounds and (for decimals) alert and action limits.

Entries are stored exactly as written; a decimal is rounded to its reported decimals only to
compare it with its limits (USP 7.20).
"""

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from app.common.rounding import usp_round

from ..base import Reader
from ..values import ACTION, ALERT, WITHIN, InputError, LimitResult, Limits, parse_number
from .base import InputDef


def _read_limits(r: Reader, key: str) -> Limits | None:
    sub = r.sub(key, f"{r.context} {key}", ("min", "max"))
    if sub is None:
        return None
    limits = Limits(sub.decimal("min"), sub.decimal("max"))
    if not sub.has("min") and not sub.has("max"):
        sub.problem("needs 'min' or 'max'")
    return limits


def _check_limits(r: Reader, chain: list[tuple[str, Decimal | None]], decimals: int | None) -> None:
    present = [(name, value) for name, value in chain if value is not None]
    for (name_a, a), (name_b, b) in zip(present, present[1:], strict=False):
        if a > b:
            order = "min <= action.min <= alert.min <= alert.max <= action.max <= max"
            r.problem(f"limits out of order: {name_a} {a} is above {name_b} {b} (need {order})", name_b.split(".")[0])
    for name, value in present if decimals is not None else ():
        if -int(value.as_tuple().exponent) > decimals:
            r.problem(
                f"{name} {value} has more decimal places than decimals ({decimals}); values are rounded "
                "to decimals before comparison",
                name.split(".")[0],
            )


@dataclass(frozen=True, kw_only=True)
class DecimalInput(InputDef):
    """A measured value: unit, reported decimals, hard bounds, alert and action limits."""

    type = "decimal"
    KEYS = ("unit", "decimals", "min", "max", "alert", "action")
    REQUIRED = ("unit", "decimals")

    unit: str
    decimals: int
    min: Decimal | None = None
    max: Decimal | None = None
    alert: Limits | None = None
    action: Limits | None = None

    def _convert(self, text: str) -> Decimal:
        value = parse_number(text)
        breach = Limits(self.min, self.max).breach(usp_round(value, self.decimals))
        if breach:
            raise InputError(f"{text} {self.unit} is not possible ({breach})")
        return value  # stored exactly as entered; rounding is only for comparison

    def evaluate(self, value: Decimal | None) -> LimitResult:
        """Round half up to `decimals` (USP 7.20), then compare with action and alert limits."""
        if value is None:
            return LimitResult(WITHIN)
        reported = usp_round(value, self.decimals)
        for level, limits in ((ACTION, self.action), (ALERT, self.alert)):
            breach = limits.breach(reported) if limits else None
            if breach:
                reason = f"{value} reported as {reported} {self.unit} is {breach} ({level} limit)"
                return LimitResult(level, reported, reason)
        return LimitResult(WITHIN, reported)

    @classmethod
    def params(cls, r: Reader) -> dict[str, Any]:
        p = {
            "unit": r.text("unit"),
            "decimals": r.integer("decimals", minimum=0),
            "min": r.decimal("min"),
            "max": r.decimal("max"),
            "alert": _read_limits(r, "alert"),
            "action": _read_limits(r, "action"),
        }
        alert, action = p["alert"] or Limits(), p["action"] or Limits()
        chain = [
            ("min", p["min"]),
            ("action.min", action.min),
            ("alert.min", alert.min),
            ("alert.max", alert.max),
            ("action.max", action.max),
            ("max", p["max"]),
        ]
        _check_limits(r, chain, p["decimals"])
        return p


@dataclass(frozen=True, kw_only=True)
class IntegerInput(InputDef):
    """A count: whole numbers only, optional unit and hard bounds."""

    type = "integer"
    KEYS = ("unit", "min", "max")

    unit: str | None = None
    min: int | None = None
    max: int | None = None

    def _convert(self, text: str) -> int:
        if not re.fullmatch(r"[+-]?[0-9]+", text):
            raise InputError(f"{text!r} is not a whole number")
        value = int(text)
        breach = Limits(
            None if self.min is None else Decimal(self.min),
            None if self.max is None else Decimal(self.max),
        ).breach(Decimal(value))
        if breach:
            raise InputError(f"{value} is not possible ({breach})")
        return value

    @classmethod
    def params(cls, r: Reader) -> dict[str, Any]:
        p = {"unit": r.text("unit"), "min": r.integer("min"), "max": r.integer("max")}
        if p["min"] is not None and p["max"] is not None and p["min"] > p["max"]:
            r.problem(f"limits out of order: min {p['min']} is above max {p['max']}")
        return p
