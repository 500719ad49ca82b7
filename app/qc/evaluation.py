"""Evaluate one reported QC result against its test: parse, round (USP 7.20), compare.

Pure: no database, no Flask. Limits are exact; only the reported value is rounded, half up to
the test's reported decimals (negative values round half away from zero, e.g. -0.05 -> -0.1).
A censored result ("<LOQ", "< 0.01", "ND") is an upper bound x, not a value: it meets a
maximum L only when x <= L (x < L for an exclusive maximum), and never shows that a minimum
is met. That is conservative: "< 0.025" fails "≤ 0.02" although every value below 0.025 would
round to 0.02, because the lab did not report which value it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from app.common.rounding import NotANumber, parse_decimal, usp_round
from app.qc.spec_schema import TestDef, format_decimal, normalise_text

PASS, ALERT, FAIL = "pass", "alert", "fail"

# Analysts' shorthands for a qualitative result, mapped to the text a spec accepts.
_ALIASES = {"nd": "not detected", "n.d.": "not detected"}
_BELOW_LOQ = ("<loq", "nd", "n.d.", "notdetected")


class ResultError(ValueError):
    """The reported result cannot be evaluated; `message` tells the analyst what to enter."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Evaluation:
    """The verdict on one reported result, with the sentence that justifies it."""

    raw: str  #: exactly what the analyst entered
    reported_value: Decimal | None  #: rounded per USP 7.20; None for text and "<" results
    reported_text: str  #: as printed on the CoA, e.g. "97.9 %", "<LOQ (0.01 %)"
    conforms: bool
    alert: bool  #: conforms, but outside the alert limits
    status: str  #: pass | alert | fail
    explanation: str
    less_than: Decimal | None = None  #: the bound x of a "<x" or "<LOQ" result


def evaluate(test: TestDef, reported: str) -> Evaluation:
    """Evaluate a reported result against the test; raise ResultError for unusable input."""
    if not isinstance(reported, str):
        raise ResultError(f"{test.name}: enter the result as text, as reported.")
    text = " ".join(reported.split())
    if not text:
        raise ResultError(f"{test.name}: enter a result.")
    if test.is_numeric:
        return _evaluate_numeric(test, reported, text)
    return _evaluate_qualitative(test, reported, text)


def _verdict(
    test: TestDef, raw: str, value: Decimal | None, text: str, conforms: bool, alert: bool,
    reason: str, less_than: Decimal | None = None,
) -> Evaluation:
    """Build the Evaluation and its sentence from the comparison's outcome."""
    alert = conforms and alert  # an alert is a warning on a passing result, never on a failure
    status = FAIL if not conforms else ALERT if alert else PASS
    outcome = "conforms" if conforms else "does not conform"
    if alert:
        outcome += f" but is outside the alert limits {test.alert_text()}"
    if test.is_numeric:
        explanation = f"{reason}; limit {test.limit_text()}: {outcome}"
    else:
        explanation = f"{reason}: {outcome}"
    return Evaluation(raw, value, text, conforms, alert, status, explanation, less_than)


def _evaluate_qualitative(test: TestDef, raw: str, text: str) -> Evaluation:
    """Match the text against the accepted texts, ignoring case and extra spaces."""
    entered = normalise_text(text)
    keys = {entered, _ALIASES.get(entered, entered)}  # "ND" matches "Not detected" and "ND"
    for accepted in test.accepted:
        if normalise_text(accepted) in keys:
            return _verdict(test, raw, None, accepted, True, False,
                            f"{text!r} matches the accepted result {accepted!r}")
    return _verdict(test, raw, None, text, False, False,
                    f"{text!r} is not an accepted result ({test.limit_text()})")


def _evaluate_numeric(test: TestDef, raw: str, text: str) -> Evaluation:
    """Round a measured value to the reported decimals and compare it with exact limits."""
    text = _strip_unit(test, text)
    censored = _censored_bound(test, text)
    if censored is not None:
        return _evaluate_censored(test, raw, *censored)
    value = _number(test, raw, text)
    if test.loq is not None and value < test.loq:
        # Below the LOQ the method cannot quantify: report "<LOQ", as the lab's SOP requires.
        return _evaluate_censored(test, raw, test.loq, f"{format_decimal(value)} is below "
                                  f"the LOQ, so it is reported as <LOQ", at_loq=True)
    rounded = usp_round(value, test.decimals or 0)
    conforms = _within(test, rounded)
    alert = (test.alert_min is not None and rounded < test.alert_min) or (
        test.alert_max is not None and rounded > test.alert_max)
    if str(rounded) == str(value):
        reason = f"{format_decimal(rounded)} needs no rounding (USP 7.20)"
    else:
        reason = f"{format_decimal(value)} rounds to {format_decimal(rounded)} (USP 7.20)"
    return _verdict(test, raw, rounded, _with_unit(test, format_decimal(rounded)), conforms,
                    alert, reason)


def _evaluate_censored(
    test: TestDef, raw: str, bound: Decimal, reason: str, at_loq: bool
) -> Evaluation:
    """Judge a "<x" result: it meets a maximum only if x does, and never a minimum."""
    conforms = test.min is None and test.max is not None and (
        bound <= test.max if test.max_inclusive else bound < test.max)
    # A bound above the alert maximum, or any alert minimum, leaves the alert open: raise it.
    alert = test.alert_min is not None or (test.alert_max is not None and bound > test.alert_max)
    if test.min is not None:
        reason += ", which cannot show that the minimum is met"
    text = f"<LOQ ({_with_unit(test, format_decimal(bound))})" if at_loq else (
        f"< {_with_unit(test, format_decimal(bound))}")
    return _verdict(test, raw, None, text, conforms, alert, reason, less_than=bound)


def _censored_bound(test: TestDef, text: str) -> tuple[Decimal, str, bool] | None:
    """Return (bound, reason, at_loq) for "<LOQ", "ND" or "< x"; None for a plain number."""
    compact = "".join(text.split()).casefold()
    if compact.startswith(("<=", "≤", "=<", ">", "≥")):
        raise ResultError(f"{test.name}: {text!r} cannot be evaluated; enter the measured value, "
                          "'< value' below the limit of quantitation, or '<LOQ'.")
    if compact in _BELOW_LOQ:
        if test.loq is None:
            raise ResultError(f"{test.name}: {text!r} needs an LOQ, and this specification "
                              "gives none; enter the measured value or '< value'.")
        return test.loq, f"{text} means below the LOQ {_with_unit(test, format_decimal(test.loq))}", True
    if not compact.startswith("<"):
        return None
    if compact == "<":
        raise ResultError(f"{test.name}: '<' needs a value, e.g. '< 0.01', or enter '<LOQ'.")
    bound = _number(test, text, compact[1:])
    if bound <= 0:
        raise ResultError(f"{test.name}: a '<' result needs a positive value, not {text!r}.")
    if test.loq is not None and bound < test.loq:
        # The method cannot support a claim finer than its LOQ: fall back to "<LOQ".
        return test.loq, f"{text} is below the LOQ, so it is reported as <LOQ", True
    return bound, f"{text} means below {_with_unit(test, format_decimal(bound))}", False


def _number(test: TestDef, raw: str, text: str) -> Decimal:
    """Parse the number as written, or explain to the analyst what to enter instead."""
    try:
        return parse_decimal(text)
    except NotANumber as exc:
        raise ResultError(
            f"{test.name}: {raw.strip()!r} is not a usable result ({exc}). Enter a number "
            f"such as 97.9 (unit {test.unit}), '< value' or '<LOQ'."
        ) from None


def _strip_unit(test: TestDef, text: str) -> str:
    """Drop a trailing unit identical to the test's ("97.9 %" -> "97.9")."""
    if test.unit and text.casefold().endswith(test.unit.casefold()):
        return text[: -len(test.unit)].rstrip()
    return text


def _within(test: TestDef, value: Decimal) -> bool:
    """Compare a rounded value with the exact limits, honouring the inclusive flags."""
    if test.min is not None and not (value > test.min or (value == test.min and test.min_inclusive)):
        return False
    return test.max is None or value < test.max or (value == test.max and test.max_inclusive)


def _with_unit(test: TestDef, number: str) -> str:
    """Append the unit with a space, as printed on the CoA."""
    return f"{number} {test.unit}" if test.unit else number
