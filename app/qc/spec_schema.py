"""QC release specifications (qc_specs/*.yaml): schema and validation, without a database.

`parse_spec()` reads one specification file and returns a frozen `SpecDef`, or raises
`DefinitionError` listing every problem as "file:line: message", so QA fixes a file in one
pass. Limits stay exact Decimals as written; only results are rounded (see evaluation.py).
The format is described in docs/qc-spec-format.md.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import PurePath
from types import SimpleNamespace
from typing import Any

from app.common.rounding import NotANumber, parse_decimal
from app.common.yamlfile import MarkedDict, MarkedList, Problems, load_marked

QUANTITATIVE, QUALITATIVE, LIMIT = "quantitative", "qualitative", "limit"
TEST_TYPES = (QUANTITATIVE, QUALITATIVE, LIMIT)
NUMERIC_TYPES = (QUANTITATIVE, LIMIT)
MATERIALS = ("drug product", "drug substance", "intermediate")
MAX_DECIMALS = 10

SPEC_KEYS = ("code", "product", "version", "title", "material", "tests")
TEST_REQUIRED = ("code", "name", "method", "type", "acceptance", "required_for_release")
TEST_OPTIONAL = ("acceptance_text",)
NUMERIC_REQUIRED = ("unit", "decimals")
NUMERIC_OPTIONAL = ("alert", "loq")
NUMERIC_ACCEPTANCE = ("min", "max", "min_inclusive", "max_inclusive")

_CODE = re.compile(r"[A-Z0-9]+(?:[-_.][A-Z0-9]+)*")
_INTEGER = re.compile(r"\d+", re.ASCII)
_FILENAME = re.compile(r"(?P<product>.+)\.v(?P<version>\d+)\.ya?ml")


def format_decimal(value: Decimal) -> str:
    """Write a Decimal in plain notation, never with an exponent."""
    return format(value, "f")


def normalise_text(text: str) -> str:
    """Fold case and collapse whitespace, so " no  Growth" matches "No growth"."""
    return " ".join(text.split()).casefold()


def range_text(
    low: Decimal | None, low_inclusive: bool, high: Decimal | None, high_inclusive: bool,
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
            "code": self.code, "product": self.product, "version": self.version,
            "title": self.title, "material": self.material,
            "tests": [t.to_dict() for t in self.tests],
        }


def parse_spec(text: str, filename: str) -> SpecDef:
    """Parse and validate one specification file; raise DefinitionError with all problems."""
    problems = Problems(filename)
    doc = load_marked(text, filename)
    if not isinstance(doc, MarkedDict):
        where = doc if isinstance(doc, MarkedList) else SimpleNamespace(line=1)
        problems.add(where, f"a specification is a mapping with keys {', '.join(SPEC_KEYS)}")
        problems.raise_if_any()
    _check_keys(problems, doc, "specification", SPEC_KEYS, SPEC_KEYS)
    header = _parse_header(problems, doc)
    tests = _parse_tests(problems, doc)
    _check_filename(problems, doc, filename, header)
    problems.raise_if_any()
    return SpecDef(**header, tests=tests)


def _check_keys(
    problems: Problems, mapping: MarkedDict, what: str,
    allowed: tuple[str, ...], required: tuple[str, ...],
) -> None:
    """Refuse unknown keys (a typo must not silently drop a limit) and report missing ones."""
    for key in mapping:
        if key not in allowed:
            problems.add(mapping, f"{what}: unknown key {key!r} (allowed: {', '.join(allowed)})",
                         key)
    for key in required:
        if key not in mapping:
            problems.add(mapping, f"{what}: missing required key {key!r}")


def _text(problems: Problems, mapping: MarkedDict, key: str, what: str) -> str | None:
    """Return a non-empty text value, or report it; a missing key was reported already."""
    if key not in mapping:
        return None
    value = mapping[key]
    if not isinstance(value, str) or not value.strip():
        problems.add(mapping, f"{what}: {key!r} must be non-empty text", key)
        return None
    return value.strip()


def _code(problems: Problems, mapping: MarkedDict, key: str, what: str) -> str | None:
    """Return an upper-case code such as "XS411-DA-NPC", or report it."""
    value = _text(problems, mapping, key, what)
    if value is not None and not _CODE.fullmatch(value):
        problems.add(mapping, f"{what}: {key} {value!r} must be upper-case letters, digits "
                     "and single - _ . separators", key)
        return None
    return value


def _bool(problems: Problems, mapping: MarkedDict, key: str, what: str) -> bool | None:
    """Return a YAML true/false, or report it."""
    value = mapping.get(key)
    if not isinstance(value, bool):
        problems.add(mapping, f"{what}: {key!r} must be true or false", key)
        return None
    return value


def _integer(problems: Problems, mapping: MarkedDict, key: str, what: str) -> int | None:
    """Return a non-negative integer written without a decimal point, or report it."""
    value = mapping.get(key)
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        return int(value)
    problems.add(mapping, f"{what}: {key!r} must be a non-negative integer, not {value!r}", key)
    return None


def _decimal(problems: Problems, mapping: MarkedDict, key: str, what: str) -> Decimal | None:
    """Return an exact Decimal from the number as written, or report it."""
    value = mapping.get(key)
    if isinstance(value, str):
        try:
            return parse_decimal(value)
        except NotANumber:
            pass
    problems.add(mapping, f"{what}: {key!r} must be a number, not {value!r}", key)
    return None


def _parse_header(problems: Problems, doc: MarkedDict) -> dict[str, Any]:
    """Validate code, product, version, title and material."""
    what = "specification"
    version = _integer(problems, doc, "version", what) if "version" in doc else None
    if version == 0:
        problems.add(doc, f"{what}: 'version' starts at 1", "version")
    material = _text(problems, doc, "material", what)
    if material is not None and material not in MATERIALS:
        problems.add(doc, f"{what}: material {material!r} must be one of {', '.join(MATERIALS)}",
                     "material")
    code, product = _code(problems, doc, "code", what), _code(problems, doc, "product", what)
    if code and product and not code.startswith(product + "-"):
        problems.add(doc, f"{what}: code {code!r} must start with the product code "
                     f"{product!r} and a dash, e.g. {product}-DP", "code")
    return {"code": code, "product": product, "version": version, "material": material,
            "title": _text(problems, doc, "title", what)}


def _parse_tests(problems: Problems, doc: MarkedDict) -> tuple[TestDef, ...]:
    """Validate the list of tests and the uniqueness of their codes."""
    items = doc.get("tests")
    if "tests" in doc and (not isinstance(items, MarkedList) or not items):
        problems.add(doc, "specification: 'tests' must be a non-empty list of tests", "tests")
        return ()
    tests: list[TestDef] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(items or ()):
        if not isinstance(item, MarkedDict):
            problems.add(items, f"tests[{index}]: a test is a mapping", index)
            continue
        code = item.get("code")
        if isinstance(code, str) and code in seen:
            problems.add(item, f"test {code}: duplicate test code (first at line {seen[code]})",
                         "code")
        elif isinstance(code, str):
            seen[code] = item.key_lines.get("code", item.line)
        test = _parse_test(problems, item, index)
        if test is not None:
            tests.append(test)
    return tuple(tests)


def _parse_test(problems: Problems, item: MarkedDict, index: int) -> TestDef | None:
    """Validate one test; return None when it has problems (they are reported)."""
    before = len(problems.items)
    code = item.get("code")
    what = f"test {code}" if isinstance(code, str) and code.strip() else f"tests[{index}]"
    kind = item.get("type")
    if "type" in item and kind not in TEST_TYPES:
        problems.add(item, f"{what}: type {kind!r} must be one of {', '.join(TEST_TYPES)}", "type")
    fields: dict[str, Any] = {
        "code": _code(problems, item, "code", what), "type": kind,
        "name": _text(problems, item, "name", what),
        "method": _text(problems, item, "method", what),
        "acceptance_text": _text(problems, item, "acceptance_text", what) or "",
    }
    if "required_for_release" in item:
        fields["required_for_release"] = _bool(problems, item, "required_for_release", what)
    if kind == QUALITATIVE:
        fields |= _parse_qualitative(problems, item, what)
    else:
        fields |= _parse_numeric(problems, item, what, kind)
    if len(problems.items) > before:
        return None
    test = TestDef(**fields)
    return test if test.acceptance_text else dataclasses.replace(
        test, acceptance_text=test.limit_text())


def _parse_qualitative(problems: Problems, item: MarkedDict, what: str) -> dict[str, Any]:
    """Validate a qualitative test: acceptance is a non-empty list of accepted texts."""
    for key in (*NUMERIC_REQUIRED, *NUMERIC_OPTIONAL):
        if key in item:
            problems.add(item, f"{what}: {key!r} is only for quantitative and limit tests", key)
    allowed = tuple(k for k in item if k in (*NUMERIC_REQUIRED, *NUMERIC_OPTIONAL))
    _check_keys(problems, item, what, (*TEST_REQUIRED, *TEST_OPTIONAL, *allowed), TEST_REQUIRED)
    acceptance = item.get("acceptance")
    if "acceptance" not in item:
        return {}
    if not isinstance(acceptance, MarkedDict):
        problems.add(item, f"{what}: 'acceptance' must be a mapping with 'accepted'", "acceptance")
        return {}
    _check_keys(problems, acceptance, f"{what} acceptance", ("accepted",), ("accepted",))
    accepted = acceptance.get("accepted")
    texts = [a.strip() for a in accepted if isinstance(a, str) and a.strip()] if isinstance(
        accepted, MarkedList) else []
    if "accepted" in acceptance and (not texts or len(texts) != len(accepted)):
        problems.add(acceptance, f"{what}: 'accepted' must be a non-empty list of texts, "
                     "e.g. [No growth]", "accepted")
    elif len({normalise_text(t) for t in texts}) != len(texts):
        problems.add(acceptance, f"{what}: 'accepted' lists the same text twice", "accepted")
    return {"accepted": tuple(texts)}


def _parse_numeric(problems: Problems, item: MarkedDict, what: str, kind: Any) -> dict[str, Any]:
    """Validate a quantitative or limit test: unit, decimals, bounds, alert and LOQ."""
    allowed = (*TEST_REQUIRED, *TEST_OPTIONAL, *NUMERIC_REQUIRED, *NUMERIC_OPTIONAL)
    if kind not in NUMERIC_TYPES:
        # Missing or unknown type (reported): type-specific checks would only add noise.
        _check_keys(problems, item, what, allowed, TEST_REQUIRED)
        return {}
    _check_keys(problems, item, what, allowed, (*TEST_REQUIRED, *NUMERIC_REQUIRED))
    fields: dict[str, Any] = {"unit": _text(problems, item, "unit", what) or ""}
    decimals = _integer(problems, item, "decimals", what) if "decimals" in item else None
    if decimals is not None and decimals > MAX_DECIMALS:
        problems.add(item, f"{what}: 'decimals' must be at most {MAX_DECIMALS}", "decimals")
    fields["decimals"] = decimals
    fields |= _parse_bounds(problems, item, what, decimals)
    fields |= _parse_alert(problems, item, what, decimals, fields)
    if "loq" in item:
        fields["loq"] = _parse_loq(problems, item, what, fields)
    return fields


def _check_places(
    problems: Problems, mapping: MarkedDict, key: str, what: str,
    value: Decimal | None, decimals: int | None,
) -> None:
    """Refuse a limit written with more decimals than results are rounded to (USP 7.20)."""
    if value is None or decimals is None:
        return
    places = -int(value.as_tuple().exponent)
    if places > decimals:
        problems.add(mapping, f"{what}: {key} {format_decimal(value)} has {places} decimals but "
                     f"results are reported to {decimals} (USP 7.20 rounds to the limit's "
                     "decimals)", key)


def _parse_bounds(
    problems: Problems, item: MarkedDict, what: str, decimals: int | None
) -> dict[str, Any]:
    """Validate acceptance min/max and their inclusive flags (inclusive unless stated)."""
    acceptance = item.get("acceptance")
    if "acceptance" not in item:
        return {}
    if not isinstance(acceptance, MarkedDict):
        problems.add(item, f"{what}: 'acceptance' must be a mapping with min and/or max",
                     "acceptance")
        return {}
    label = f"{what} acceptance"
    _check_keys(problems, acceptance, label, NUMERIC_ACCEPTANCE, ())
    fields: dict[str, Any] = {}
    for key in ("min", "max"):
        if key in acceptance:
            fields[key] = _decimal(problems, acceptance, key, label)
            _check_places(problems, acceptance, key, label, fields[key], decimals)
        flag = f"{key}_inclusive"
        if flag in acceptance:
            fields[flag] = _bool(problems, acceptance, flag, label)
            if key not in acceptance:
                problems.add(acceptance, f"{label}: {flag!r} given without {key!r}", flag)
    if "min" not in acceptance and "max" not in acceptance:
        problems.add(acceptance, f"{label}: give at least one of 'min' and 'max'")
    low, high = fields.get("min"), fields.get("max")
    both_inclusive = fields.get("min_inclusive", True) and fields.get("max_inclusive", True)
    empty = low is not None and high is not None and (
        low > high or (low == high and not both_inclusive))
    if empty:
        problems.add(acceptance, f"{label}: min {format_decimal(low)} must be below max "
                     f"{format_decimal(high)}", "min")
    return fields


def _parse_alert(
    problems: Problems, item: MarkedDict, what: str, decimals: int | None,
    bounds: dict[str, Any],
) -> dict[str, Any]:
    """Validate alert limits: an inclusive range inside the acceptance limits."""
    alert = item.get("alert")
    if "alert" not in item:
        return {}
    label = f"{what} alert"
    if not isinstance(alert, MarkedDict) or not ({"min", "max"} & set(alert)):
        problems.add(item, f"{label}: 'alert' must be a mapping with min and/or max", "alert")
        return {}
    _check_keys(problems, alert, label, ("min", "max"), ())
    low = _decimal(problems, alert, "min", label) if "min" in alert else None
    high = _decimal(problems, alert, "max", label) if "max" in alert else None
    _check_places(problems, alert, "min", label, low, decimals)
    _check_places(problems, alert, "max", label, high, decimals)
    if low is not None and high is not None and low > high:
        problems.add(alert, f"{label}: min {format_decimal(low)} must not exceed max "
                     f"{format_decimal(high)}", "min")
    accept_low, accept_high = bounds.get("min"), bounds.get("max")
    inside = all(
        (accept_low is None or v >= accept_low) and (accept_high is None or v <= accept_high)
        for v in (low, high) if v is not None
    )
    if not inside:
        accept = range_text(accept_low, bounds.get("min_inclusive", True), accept_high,
                            bounds.get("max_inclusive", True), "")
        problems.add(item, f"{label}: the alert limits {range_text(low, True, high, True, '')} "
                     f"must lie inside the acceptance limits {accept}", "alert")
    return {"alert_min": low, "alert_max": high}


def _parse_loq(
    problems: Problems, item: MarkedDict, what: str, fields: dict[str, Any]
) -> Decimal | None:
    """Validate the LOQ: positive, and low enough that a "<LOQ" result can conform."""
    loq = _decimal(problems, item, "loq", what)
    if loq is None:
        return None
    if loq <= 0:
        problems.add(item, f"{what}: 'loq' must be positive", "loq")
    high = fields.get("max")
    exclusive = not fields.get("max_inclusive", True)
    if high is not None and (loq > high or (loq == high and exclusive)):
        problems.add(item, f"{what}: loq {format_decimal(loq)} must be below the maximum "
                     f"{format_decimal(high)}, or a <LOQ "
                     "result could never conform", "loq")
    return loq


def _check_filename(
    problems: Problems, doc: MarkedDict, filename: str, header: dict[str, Any]
) -> None:
    """Check that "PRODUCT.vN.yaml" agrees with the product and version inside it."""
    match = _FILENAME.fullmatch(PurePath(filename).name)
    if match is None:
        return  # free-form names (tests, uploads) are not checked
    if header["product"] and match["product"] != header["product"]:
        problems.add(doc, f"specification: product {header['product']!r} does not match the "
                     f"file name {PurePath(filename).name!r}", "product")
    if header["version"] is not None and int(match["version"]) != header["version"]:
        problems.add(doc, f"specification: version {header['version']} does not match the "
                     f"file name {PurePath(filename).name!r}", "version")
