"""The parsed specification: frozen definitions and how their limits are written."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

QUANTITATIVE, QUALITATIVE, LIMIT = "quantitative", "qualitative", "limit"
TEST_TYPES = (QUANTITATIVE, QUALITATIVE, LIMIT)
NUMERIC_TYPES = (QUANTITATIVE, LIMIT)
MATERIALS = ("drug product", "drug substance", "intermediate")


def format_decimal(value: Decimal) -> str:
    """Write a Decimal in plain notation, never with an exponent."""
    return format(value, "f")


def normalise_text(text: str) -> str:
    """Fold case and collapse whitespace, so " no  Growth" matches "No growth"."""
    return " ".join(text.split()).casefold()


def range_text(
    low: Decimal | None,
    low_inclusive: bool,
    high: Decimal | None,
    high_inclusive: bool,
    unit: str,
) -> str:
    """Write a numeric range as printed on a certificate, e.g. "≥ 90.0 %"."""
    suffix = f" {unit}" if unit else ""
    if low is not None and high is not None:
        if low_inclusive and high_inclusive:
            return f"{format_decimal(low)} to {format_decimal(high)}{suffix}"
        low_sign, high_sign = ("≥" if low_inclusive else ">"), ("≤" if high_inclusive else "<")
        return f"{low_sign} {format_decimal(low)} and {high_sign} {format_decimal(high)}{suffix}"
    if low is not None:
        return f"{'≥' if low_inclusive else '>'} {format_decimal(low)}{suffix}"
    if high is not None:
        return f"{'≤' if high_inclusive else '<'} {format_decimal(high)}{suffix}"
    return ""


@dataclass(frozen=True)
class TestDef:
    """One release test: how it is measured, reported and judged."""

    __test__ = False  # not a pytest test class, despite the name

    code: str
    name: str
    method: str  #: compendial or in-house reference, e.g. "USP <71>", "Ph. Eur. 2.6.7"
    type: str  #: quantitative | qualitative | limit
    required_for_release: bool
    unit: str = ""
    decimals: int | None = None  #: reported decimals; USP 7.20 rounds results to these
    min: Decimal | None = None
    max: Decimal | None = None
    min_inclusive: bool = True
    max_inclusive: bool = True
    accepted: tuple[str, ...] = ()  #: qualitative results that conform, e.g. ("No growth",)
    alert_min: Decimal | None = None  #: conforming results below this raise an alert
    alert_max: Decimal | None = None
    loq: Decimal | None = None  #: limit of quantitation; lower results are reported "<LOQ"
    acceptance_text: str = ""  #: as printed on the CoA; generated when the file gives none

    @property
    def is_numeric(self) -> bool:
        """Say whether results are numbers (quantitative or limit test)."""
        return self.type in NUMERIC_TYPES

    def limit_text(self) -> str:
        """Write the exact acceptance criterion, e.g. "≥ 90.0 %" or "No growth"."""
        if not self.is_numeric:
            return " or ".join(self.accepted)
        return range_text(self.min, self.min_inclusive, self.max, self.max_inclusive, self.unit)

    def alert_text(self) -> str:
        """Write the alert range (empty when the test has no alert limits)."""
        return range_text(self.alert_min, True, self.alert_max, True, self.unit)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serializable dict; Decimals become plain strings."""
        result: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Decimal):
                value = format_decimal(value)
            elif isinstance(value, tuple):
                value = list(value)
            result[f.name] = value
        return result


@dataclass(frozen=True)
class SpecDef:
    """One version of a product's release specification."""

    code: str  #: e.g. "XS411-DA-NPC-DP"
    product: str  #: master batch record code, e.g. "XS411-DA-NPC"
    version: int
    title: str
    material: str
    tests: tuple[TestDef, ...]

    def test(self, code: str) -> TestDef:
        """Return the test with this code; KeyError names the spec when there is none."""
        for test in self.tests:
            if test.code == code:
                return test
        raise KeyError(f"specification {self.code} v{self.version} has no test {code!r}")

    @property
    def required_tests(self) -> tuple[TestDef, ...]:
        """Return the tests whose results must exist before release."""
        return tuple(t for t in self.tests if t.required_for_release)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serializable dict; Decimals become plain strings."""
        return {
            "code": self.code,
            "product": self.product,
            "version": self.version,
            "title": self.title,
            "material": self.material,
            "tests": [t.to_dict() for t in self.tests],
        }
