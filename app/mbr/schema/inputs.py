"""Step input types: a registry of classes that read their definition, validate and evaluate.

Each type validates an operator's raw text into a normalized value (or raises InputError)
and evaluates a validated value against its limits (within, alert or action excursion).
"""

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from app.common.rounding import usp_round

from .base import Located, Reader, describe, problem_at
from .values import (
    ACTION,
    ALERT,
    WITHIN,
    InputError,
    LimitResult,
    Limits,
    duration_breach,
    parse_datetime,
    parse_identifier,
    parse_number,
)

DEFAULT_MAX_LENGTH = 2000


@dataclass(frozen=True, kw_only=True)
class InputDef(Located):
    """One value a step records; subclasses add their type's parameters and rules."""

    type: ClassVar[str] = ""
    KEYS: ClassVar[tuple[str, ...]] = ()
    REQUIRED: ClassVar[tuple[str, ...]] = ()

    name: str
    label: str
    required: bool = True
    help: str | None = None

    def validate(self, raw: str | None) -> Any:
        """Return the normalized value of an entry (None if optional and empty)."""
        if raw is not None and not isinstance(raw, str):
            raise TypeError("validate() takes the entry as text")
        text = (raw or "").strip()
        if not text:
            if self.required:
                raise InputError("a value is required")
            return None
        return self._convert(text)

    def _convert(self, text: str) -> Any:
        raise NotImplementedError

    def evaluate(self, value: Any) -> LimitResult:
        """Compare a validated value with the input's limits (this type has none)."""
        return LimitResult(WITHIN, value)

    def to_dict(self) -> dict[str, Any]:
        """Return the definition as JSON data, with its type name."""
        return {"type": self.type, **super().to_dict()}

    @classmethod
    def params(cls, r: Reader) -> dict[str, Any]:
        """Read this type's own keys from the definition."""
        return {}


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


@dataclass(frozen=True, kw_only=True)
class TextInput(InputDef):
    """Free text (comments, observations), at most `max_length` characters."""

    type = "text"
    KEYS = ("max_length",)

    max_length: int = DEFAULT_MAX_LENGTH

    def _convert(self, text: str) -> str:
        if len(text) > self.max_length:
            raise InputError(f"at most {self.max_length} characters, not {len(text)}")
        if "\x00" in text:
            raise InputError("the text contains a NUL character")
        return text

    @classmethod
    def params(cls, r: Reader) -> dict[str, Any]:
        length = r.integer("max_length", minimum=1)
        return {"max_length": DEFAULT_MAX_LENGTH if length is None else length}


def _read_options(r: Reader, key: str) -> tuple[str, ...]:
    options: list[str] = []
    for item, line in r.items(key):
        if not isinstance(item, str) or not item.strip():
            problem_at(r.problems, line, f"{r.context}: {key} item must be text, not {describe(item)}")
        elif item.strip() in options:
            problem_at(r.problems, line, f"{r.context}: duplicate option {item.strip()!r} in {key}")
        else:
            options.append(item.strip())
    return tuple(options)


@dataclass(frozen=True, kw_only=True)
class ChoiceInput(InputDef):
    """One of fixed options; some options may be alert or action excursions."""

    type = "choice"
    KEYS = ("options", "alert_options", "action_options")
    REQUIRED = ("options",)

    options: tuple[str, ...]
    alert_options: tuple[str, ...] = ()
    action_options: tuple[str, ...] = ()

    def _convert(self, text: str) -> str:
        if text not in self.options:
            raise InputError(f"{text!r} is not one of: {', '.join(self.options)}")
        return text

    def evaluate(self, value: str | None) -> LimitResult:
        """Flag an answer listed in action_options or alert_options."""
        if value in self.action_options:
            return LimitResult(ACTION, value, f"{value!r} is an action-level answer")
        if value in self.alert_options:
            return LimitResult(ALERT, value, f"{value!r} is an alert-level answer")
        return LimitResult(WITHIN, value)

    @classmethod
    def params(cls, r: Reader) -> dict[str, Any]:
        options = _read_options(r, "options")
        if r.has("options") and not options:
            r.problem("'options' must list at least one option", "options")
        alert, action = _read_options(r, "alert_options"), _read_options(r, "action_options")
        for key, chosen in (("alert_options", alert), ("action_options", action)):
            for option in chosen:
                if option not in options:
                    r.problem(f"{key}: {option!r} is not one of the options", key)
        for option in set(alert) & set(action):
            r.problem(f"{option!r} is both an alert and an action option", "action_options")
        return {"options": options, "alert_options": alert, "action_options": action}


@dataclass(frozen=True, kw_only=True)
class YesNoInput(InputDef):
    """A yes/no answer; an answer other than `expected` is an action-limit excursion."""

    type = "yes_no"
    KEYS = ("expected",)

    expected: str | None = None

    def _convert(self, text: str) -> str:
        answer = text.lower()
        if answer not in ("yes", "no"):
            raise InputError(f"{text!r}: answer yes or no")
        return answer

    def evaluate(self, value: str | None) -> LimitResult:
        """Flag an answer that differs from the expected one."""
        if self.expected is not None and value is not None and value != self.expected:
            return LimitResult(ACTION, value, f"answer {value!r}, expected {self.expected!r}")
        return LimitResult(WITHIN, value)

    @classmethod
    def params(cls, r: Reader) -> dict[str, Any]:
        if not r.has("expected"):
            return {"expected": None}
        raw = r.node["expected"]
        # YAML 1.1 reads a bare yes/no as a boolean; both spellings mean the same here.
        expected = {True: "yes", False: "no"}.get(raw) if isinstance(raw, bool) else raw
        if expected not in ("yes", "no"):
            r.problem(f"'expected' must be yes or no, not {describe(raw)}", "expected")
            expected = None
        return {"expected": expected}


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
        text = (raw or "").strip()
        if not text:
            if self.required:
                raise InputError("a quantity is required")
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


#: The registry: YAML `type` name -> input class (CTFd-style).
INPUT_TYPES: dict[str, type[InputDef]] = {
    cls.type: cls
    for cls in (
        DecimalInput,
        IntegerInput,
        TextInput,
        ChoiceInput,
        YesNoInput,
        MaterialInput,
        EquipmentInput,
        TimerInput,
        DateTimeInput,
    )
}
