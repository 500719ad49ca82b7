"""Operator values: parsing entered text and comparing values with limits.

Numbers are parsed exactly (Decimal, never float) and rounded only for comparison (USP 7.20).
"""

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from app.common.rounding import NotANumber, parse_decimal

WITHIN, ALERT, ACTION = "within", "alert", "action"
#: Plain decimal notation only: a comma (decimal or thousands) would be misread, NaN refused.
NUMBER_RE = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?\Z")
DATETIME_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}")
MAX_ID_LENGTH = 64


class InputError(ValueError):
    """An operator's entry is refused; the message says why in words the operator can act on."""


@dataclass(frozen=True)
class LimitResult:
    """How a validated value compares with its limits; levels are exclusive, action is worst."""

    level: str = WITHIN
    reported: Any = None
    reason: str = ""

    @property
    def within(self) -> bool:
        return self.level == WITHIN

    @property
    def alert(self) -> bool:
        return self.level == ALERT

    @property
    def action(self) -> bool:
        return self.level == ACTION


@dataclass(frozen=True)
class Limits:
    """An inclusive min/max pair; either end may be open."""

    min: Decimal | None = None
    max: Decimal | None = None

    def breach(self, value: Decimal) -> str | None:
        """Say which end `value` falls outside of, or None when inside."""
        if self.min is not None and value < self.min:
            return f"below the minimum {self.min}"
        if self.max is not None and value > self.max:
            return f"above the maximum {self.max}"
        return None


def parse_number(text: str) -> Decimal:
    """Parse an operator's number in plain decimal notation; raise InputError otherwise."""
    if "," in text:
        raise InputError(f"{text!r}: use a point as decimal separator, no thousands separators")
    try:
        if not NUMBER_RE.match(text):
            raise NotANumber(text)
        return parse_decimal(text)
    except NotANumber:
        raise InputError(f"{text!r} is not a number") from None


def parse_identifier(text: str, what: str) -> str:
    """Check a scanned or typed ID (material lot, equipment): printable, at most 64 chars."""
    if len(text) > MAX_ID_LENGTH or not text.isprintable():
        raise InputError(f"{what} must be at most {MAX_ID_LENGTH} printable characters")
    return text


def parse_datetime(text: str) -> datetime:
    """Parse an ISO 8601 date and time; without an offset it is in the site's timezone."""
    try:
        if not DATETIME_RE.match(text):
            raise ValueError(text)
        return datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"{text!r} is not a date and time (YYYY-MM-DDTHH:MM)") from None


def duration_breach(seconds: int, min_minutes: int | None, max_minutes: int | None) -> str | None:
    """Say how a duration misses an inclusive minute window, or None when inside."""
    if min_minutes is not None and seconds < min_minutes * 60:
        return f"{seconds // 60} min {seconds % 60} s is shorter than {min_minutes} min"
    if max_minutes is not None and seconds > max_minutes * 60:
        return f"{seconds // 60} min {seconds % 60} s is longer than {max_minutes} min"
    return None
