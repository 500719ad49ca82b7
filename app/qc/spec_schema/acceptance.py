"""The type-specific part of a release test: what it accepts, and for numbers how it reports.

A qualitative test accepts listed texts; a quantitative or limit test has a unit, reported
decimals, bounds, alert limits and an LOQ. A test's keys are checked here, with its type's,
because which keys are allowed depends on the type.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from app.common.yamlfile import MarkedDict, MarkedList, Problems

from .fields import check_keys, read_bool, read_decimal, read_integer, read_text
from .model import NUMERIC_TYPES, format_decimal, normalise_text, range_text

MAX_DECIMALS = 10

TEST_REQUIRED = ("code", "name", "method", "type", "acceptance", "required_for_release")
TEST_OPTIONAL = ("acceptance_text",)
NUMERIC_REQUIRED = ("unit", "decimals")
NUMERIC_OPTIONAL = ("alert", "loq")
NUMERIC_ACCEPTANCE = ("min", "max", "min_inclusive", "max_inclusive")


def parse_qualitative(problems: Problems, item: MarkedDict, what: str) -> dict[str, Any]:
    """Validate a qualitative test: acceptance is a non-empty list of accepted texts."""
    for key in (*NUMERIC_REQUIRED, *NUMERIC_OPTIONAL):
        if key in item:
            problems.add(item, f"{what}: {key!r} is only for quantitative and limit tests", key)
    allowed = tuple(k for k in item if k in (*NUMERIC_REQUIRED, *NUMERIC_OPTIONAL))
    check_keys(problems, item, what, (*TEST_REQUIRED, *TEST_OPTIONAL, *allowed), TEST_REQUIRED)
    acceptance = _acceptance(problems, item, what, "'accepted'")
    if acceptance is None:
        return {}
    check_keys(problems, acceptance, f"{what} acceptance", ("accepted",), ("accepted",))
    accepted = acceptance.get("accepted")
    texts = (
        [a.strip() for a in accepted if isinstance(a, str) and a.strip()] if isinstance(accepted, MarkedList) else []
    )
    if "accepted" in acceptance and (not texts or len(texts) != len(accepted)):
        problems.add(acceptance, f"{what}: 'accepted' must be a non-empty list of texts, e.g. [No growth]", "accepted")
    elif len({normalise_text(t) for t in texts}) != len(texts):
        problems.add(acceptance, f"{what}: 'accepted' lists the same text twice", "accepted")
    return {"accepted": tuple(texts)}


def parse_numeric(problems: Problems, item: MarkedDict, what: str, kind: Any) -> dict[str, Any]:
    """Validate a quantitative or limit test: unit, decimals, bounds, alert and LOQ."""
    allowed = (*TEST_REQUIRED, *TEST_OPTIONAL, *NUMERIC_REQUIRED, *NUMERIC_OPTIONAL)
    if kind not in NUMERIC_TYPES:
        # Missing or unknown type (reported): type-specific checks would only add noise.
        check_keys(problems, item, what, allowed, TEST_REQUIRED)
        return {}
    check_keys(problems, item, what, allowed, (*TEST_REQUIRED, *NUMERIC_REQUIRED))
    fields: dict[str, Any] = {"unit": read_text(problems, item, "unit", what) or ""}
    decimals = read_integer(problems, item, "decimals", what) if "decimals" in item else None
    if decimals is not None and decimals > MAX_DECIMALS:
        problems.add(item, f"{what}: 'decimals' must be at most {MAX_DECIMALS}", "decimals")
    fields["decimals"] = decimals
    fields |= _parse_bounds(problems, item, what, decimals)
    fields |= _parse_alert(problems, item, what, decimals, fields)
    if "loq" in item:
        fields["loq"] = _parse_loq(problems, item, what, fields)
    return fields


def _acceptance(problems: Problems, item: MarkedDict, what: str, keys: str) -> MarkedDict | None:
    """Return the test's acceptance mapping; None when it is missing (reported already) or not a mapping."""
    acceptance = item.get("acceptance")
    if "acceptance" in item and not isinstance(acceptance, MarkedDict):
        problems.add(item, f"{what}: 'acceptance' must be a mapping with {keys}", "acceptance")
        return None
    return acceptance


def _check_places(
    problems: Problems,
    mapping: MarkedDict,
    key: str,
    what: str,
    value: Decimal | None,
    decimals: int | None,
) -> None:
    """Refuse a limit written with more decimals than results are rounded to (USP 7.20)."""
    if value is None or decimals is None:
        return
    places = -int(value.as_tuple().exponent)
    if places > decimals:
        problems.add(
            mapping,
            f"{what}: {key} {format_decimal(value)} has {places} decimals but "
            f"results are reported to {decimals} (USP 7.20 rounds to the limit's "
            "decimals)",
            key,
        )


def _parse_bounds(problems: Problems, item: MarkedDict, what: str, decimals: int | None) -> dict[str, Any]:
    """Validate acceptance min/max and their inclusive flags (inclusive unless stated)."""
    acceptance = _acceptance(problems, item, what, "min and/or max")
    if acceptance is None:
        return {}
    label = f"{what} acceptance"
    check_keys(problems, acceptance, label, NUMERIC_ACCEPTANCE, ())
    fields: dict[str, Any] = {}
    for key in ("min", "max"):
        if key in acceptance:
            fields[key] = read_decimal(problems, acceptance, key, label)
            _check_places(problems, acceptance, key, label, fields[key], decimals)
        flag = f"{key}_inclusive"
        if flag in acceptance:
            fields[flag] = read_bool(problems, acceptance, flag, label)
            if key not in acceptance:
                problems.add(acceptance, f"{label}: {flag!r} given without {key!r}", flag)
    if "min" not in acceptance and "max" not in acceptance:
        problems.add(acceptance, f"{label}: give at least one of 'min' and 'max'")
    low, high = fields.get("min"), fields.get("max")
    both_inclusive = fields.get("min_inclusive", True) and fields.get("max_inclusive", True)
    empty = low is not None and high is not None and (low > high or (low == high and not both_inclusive))
    if empty:
        problems.add(acceptance, f"{label}: min {format_decimal(low)} must be below max {format_decimal(high)}", "min")
    return fields


def _parse_alert(
    problems: Problems,
    item: MarkedDict,
    what: str,
    decimals: int | None,
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
    check_keys(problems, alert, label, ("min", "max"), ())
    low = read_decimal(problems, alert, "min", label) if "min" in alert else None
    high = read_decimal(problems, alert, "max", label) if "max" in alert else None
    _check_places(problems, alert, "min", label, low, decimals)
    _check_places(problems, alert, "max", label, high, decimals)
    if low is not None and high is not None and low > high:
        problems.add(alert, f"{label}: min {format_decimal(low)} must not exceed max {format_decimal(high)}", "min")
    accept_low, accept_high = bounds.get("min"), bounds.get("max")
    inside = all(
        (accept_low is None or v >= accept_low) and (accept_high is None or v <= accept_high)
        for v in (low, high)
        if v is not None
    )
    if not inside:
        accept = range_text(
            accept_low, bounds.get("min_inclusive", True), accept_high, bounds.get("max_inclusive", True), ""
        )
        problems.add(
            item,
            f"{label}: the alert limits {range_text(low, True, high, True, '')} "
            f"must lie inside the acceptance limits {accept}",
            "alert",
        )
    return {"alert_min": low, "alert_max": high}


def _parse_loq(problems: Problems, item: MarkedDict, what: str, fields: dict[str, Any]) -> Decimal | None:
    """Validate the LOQ: positive, and low enough that a "<LOQ" result can conform."""
    loq = read_decimal(problems, item, "loq", what)
    if loq is None:
        return None
    if loq <= 0:
        problems.add(item, f"{what}: 'loq' must be positive", "loq")
    high = fields.get("max")
    exclusive = not fields.get("max_inclusive", True)
    if high is not None and (loq > high or (loq == high and exclusive)):
        problems.add(
            item,
            f"{what}: loq {format_decimal(loq)} must be below the maximum "
            f"{format_decimal(high)}, or a <LOQ "
            "result could never conform",
            "loq",
        )
    return loq
