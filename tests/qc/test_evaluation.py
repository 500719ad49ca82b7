"""Evaluation of reported results: parse, round (USP 7.20), compare with exact limits."""

import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest

from app.qc.evaluation import Evaluation, ResultError, evaluate
from app.qc.spec_schema import TestDef, parse_spec

pytestmark = pytest.mark.req("URS-QC-003")

D = Decimal


def make(**fields) -> TestDef:
    """Build a quantitative test definition; keywords override the defaults."""
    base = {"code": "T", "name": "Viability", "method": "SOP", "type": "quantitative",
            "required_for_release": True, "unit": "%", "decimals": 1}
    return TestDef(**(base | fields))


def outcome(test: TestDef, reported: str) -> tuple[str, str]:
    """Return (status, reported_text) for a result."""
    result = evaluate(test, reported)
    return result.status, result.reported_text


PURITY = make(min=D("98.0"))
IMPURITY = make(name="Impurity", decimals=2, max=D("0.02"))
VIABILITY = make(min=D("90.0"), min_inclusive=False, alert_min=D("92.0"))
UNDIFF = make(name="Undifferentiated cells", type="limit", decimals=2, max=D("0.10"),
              max_inclusive=False, loq=D("0.01"))
ENDOTOXIN = make(name="Endotoxin", type="limit", unit="EU/mL", decimals=1, max=D("1.0"),
                 alert_max=D("0.5"), loq=D("0.1"))
DOSE = make(name="Cells per vial", unit="x10^7 cells", decimals=2, min=D("4.00"),
            max=D("6.00"), alert_min=D("4.50"), alert_max=D("5.50"))
STERILITY = make(name="Sterility", type="qualitative", unit="", decimals=None,
                 accepted=("No growth",))
MYCOPLASMA = make(name="Mycoplasma", type="qualitative", unit="", decimals=None,
                  accepted=("Not detected",))


@pytest.mark.parametrize(
    ("test", "reported", "value", "conforms"),
    [(PURITY, "97.95", "98.0", True), (PURITY, "97.92", "97.9", False),
     (IMPURITY, "0.025", "0.03", False), (IMPURITY, "0.015", "0.02", True)],
)
def test_usp_examples_round_then_compare(test, reported, value, conforms):
    result = evaluate(test, reported)
    assert str(result.reported_value) == value
    assert result.conforms is conforms
    assert result.status == ("pass" if conforms else "fail")


def test_explanation_states_rounding_limit_and_verdict():
    assert evaluate(PURITY, "97.95").explanation == (
        "97.95 rounds to 98.0 (USP 7.20); limit ≥ 98.0 %: conforms")
    assert evaluate(PURITY, "97.92").explanation == (
        "97.92 rounds to 97.9 (USP 7.20); limit ≥ 98.0 %: does not conform")
    assert evaluate(PURITY, "98.0").explanation.startswith("98.0 needs no rounding")


@pytest.mark.parametrize(
    ("reported", "status"),
    [("90.0", "fail"), ("90.04", "fail"), ("90.05", "alert"), ("91.9", "alert"),
     ("92.0", "pass"), ("100", "pass"), ("89.99", "fail")],
)
def test_exclusive_minimum_and_alert(reported, status):
    assert evaluate(VIABILITY, reported).status == status


def test_inclusive_minimum_accepts_the_limit_itself():
    assert evaluate(make(min=D("90.0")), "89.95").conforms  # rounds to 90.0
    assert not evaluate(make(min=D("90.0")), "89.94").conforms


@pytest.mark.parametrize(
    ("reported", "conforms"),
    [("0.10", False), ("0.095", False), ("0.094", True), ("0.09", True), ("0", True)],
)
def test_exclusive_maximum(reported, conforms):
    assert evaluate(make(decimals=2, max=D("0.10"), max_inclusive=False), reported).conforms is (
        conforms)


@pytest.mark.parametrize(
    ("reported", "status", "text"),
    [("4.00", "alert", "4.00 x10^7 cells"), ("3.995", "alert", "4.00 x10^7 cells"),
     ("3.994", "fail", "3.99 x10^7 cells"), ("5", "pass", "5.00 x10^7 cells"),
     ("5.50", "pass", "5.50 x10^7 cells"), ("5.505", "alert", "5.51 x10^7 cells"),
     ("6.00", "alert", "6.00 x10^7 cells"), ("6.005", "fail", "6.01 x10^7 cells")],
)
def test_inclusive_range_with_alert_band(reported, status, text):
    assert outcome(DOSE, reported) == (status, text)


def test_alert_names_the_alert_limits_and_a_failure_is_never_an_alert():
    result = evaluate(ENDOTOXIN, "0.6")
    assert (result.conforms, result.alert, result.status) == (True, True, "alert")
    assert result.explanation.endswith("conforms but is outside the alert limits ≤ 0.5 EU/mL")
    failed = evaluate(ENDOTOXIN, "1.05")
    assert (failed.conforms, failed.alert, failed.status) == (False, False, "fail")


@pytest.mark.req("URS-QC-004")
@pytest.mark.parametrize("reported", ["<LOQ", "< LOQ", "<loq", " <LOQ % "])
def test_below_loq_conforms_to_a_maximum(reported):
    result = evaluate(UNDIFF, reported)
    assert (result.status, result.reported_text) == ("pass", "<LOQ (0.01 %)")
    assert (result.reported_value, result.less_than) == (None, D("0.01"))


@pytest.mark.req("URS-QC-004")
@pytest.mark.parametrize("reported", ["< 0.05", "<0.05", "< 0.05 %"])
def test_less_than_a_value_is_reported_as_such(reported):
    result = evaluate(UNDIFF, reported)
    assert (result.status, result.reported_text, result.less_than) == (
        "pass", "< 0.05 %", D("0.05"))


@pytest.mark.req("URS-QC-004")
@pytest.mark.parametrize(
    ("max_inclusive", "reported", "conforms"),
    [(True, "<0.02", True), (True, "<0.025", False), (True, "<0.01", True),
     (False, "<0.02", False), (False, "<0.019", True)],
)
def test_less_than_meets_a_maximum_only_when_its_bound_does(max_inclusive, reported, conforms):
    test = make(decimals=2, max=D("0.02"), max_inclusive=max_inclusive)
    assert evaluate(test, reported).conforms is conforms


@pytest.mark.req("URS-QC-004")
def test_less_than_never_satisfies_a_minimum():
    assert evaluate(VIABILITY, "<95").status == "fail"
    assert "cannot show that the minimum is met" in evaluate(DOSE, "<5.00").explanation
    assert not evaluate(DOSE, "<5.00").conforms


@pytest.mark.req("URS-QC-004")
def test_less_than_above_the_alert_maximum_raises_an_alert():
    assert evaluate(ENDOTOXIN, "<1.0").status == "alert"
    assert evaluate(ENDOTOXIN, "<0.5").status == "pass"


@pytest.mark.req("URS-QC-004")
@pytest.mark.parametrize("reported", ["0.005", "<0.005", "ND", "nd", "Not detected"])
def test_results_below_the_loq_are_reported_as_loq(reported):
    assert outcome(UNDIFF, reported) == ("pass", "<LOQ (0.01 %)")


@pytest.mark.req("URS-QC-004")
def test_loq_results_need_a_test_with_an_loq():
    for reported in ("<LOQ", "ND"):
        with pytest.raises(ResultError, match="needs an LOQ"):
            evaluate(IMPURITY, reported)


@pytest.mark.req("URS-QC-004")
@pytest.mark.parametrize(
    ("test", "reported", "status", "text"),
    [(STERILITY, "No growth", "pass", "No growth"),
     (STERILITY, "  no   GROWTH ", "pass", "No growth"),
     (STERILITY, "Growth", "fail", "Growth"),
     (STERILITY, "ND", "fail", "ND"),
     (MYCOPLASMA, "ND", "pass", "Not detected"),
     (MYCOPLASMA, "not\tdetected", "pass", "Not detected"),
     (MYCOPLASMA, "Detected", "fail", "Detected")],
)
def test_qualitative_results_match_accepted_texts(test, reported, status, text):
    result = evaluate(test, reported)
    assert (result.status, result.reported_text, result.reported_value) == (status, text, None)


@pytest.mark.req("URS-QC-004")
def test_a_spec_that_accepts_nd_literally_still_matches_it():
    assert evaluate(dataclasses.replace(MYCOPLASMA, accepted=("ND",)), "nd").reported_text == "ND"


@pytest.mark.req("URS-QC-004")
def test_qualitative_failure_explains_what_was_expected():
    assert evaluate(STERILITY, "Growth").explanation == (
        "'Growth' is not an accepted result (No growth): does not conform")


def test_negative_values_round_half_away_from_zero():
    change = make(name="Change", unit="", min=D("-0.5"))
    assert str(evaluate(change, "-0.55").reported_value) == "-0.6"
    assert evaluate(change, "-0.55").status == "fail"
    assert evaluate(change, "-0.54").status == "pass"
    assert str(evaluate(change, "-0.04").reported_value) == "0.0"  # never "-0.0" on a CoA


def test_a_trailing_unit_matching_the_test_is_accepted():
    assert outcome(ENDOTOXIN, "0.3 eu/mL") == ("pass", "0.3 EU/mL")


@pytest.mark.req("URS-DAT-005")
@pytest.mark.parametrize(
    "reported",
    ["", "   ", "abc", "NaN", "nan", "Infinity", "-inf", "1e999", "<", "< ", "<abc", "<NaN",
     "<0", "< -1", "<= 0.1", "≤ 0.1", "> 0.1", "≥ 90", "97,5", "1.2.3", "0.3 mg", "Conforms"],
)
def test_unusable_numeric_input_is_refused(reported):
    with pytest.raises(ResultError) as caught:
        evaluate(UNDIFF, reported)
    assert isinstance(caught.value, ValueError)
    assert caught.value.message.startswith("Undifferentiated cells: ")


def test_refusal_tells_the_analyst_what_to_enter():
    with pytest.raises(ResultError, match=r"Enter a number such as 97.9 \(unit %\)"):
        evaluate(VIABILITY, "ninety")
    with pytest.raises(ResultError, match="enter a result"):
        evaluate(STERILITY, " ")
    with pytest.raises(ResultError, match="as text"):
        evaluate(VIABILITY, 97.9)  # type: ignore[arg-type]


def test_evaluation_is_frozen_and_keeps_the_raw_text():
    result = evaluate(VIABILITY, " 95.04 % ")
    assert isinstance(result, Evaluation) and result.raw == " 95.04 % "
    assert result.reported_text == "95.0 %"
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.conforms = False  # type: ignore[misc]


@pytest.mark.req("URS-QC-009")
def test_shipped_spec_evaluates_end_to_end():
    path = Path(__file__).resolve().parents[2] / "qc_specs" / "XS411-DA-NPC.v1.yaml"
    spec = parse_spec(path.read_text(encoding="utf-8"), "qc_specs/XS411-DA-NPC.v1.yaml")
    assert evaluate(spec.test("VIABILITY"), "90.0").status == "fail"
    assert evaluate(spec.test("VIABILITY"), "95.3").status == "pass"
    assert evaluate(spec.test("UNDIFF-FLOW"), "<LOQ").reported_text == "<LOQ (0.01 %)"
    assert evaluate(spec.test("ENDOTOXIN"), "1.04").status == "alert"
    assert evaluate(spec.test("ENDOTOXIN"), "1.05").status == "fail"
    assert evaluate(spec.test("MYCOPLASMA"), "ND").status == "pass"
    assert evaluate(spec.test("STR"), "match").reported_text == "Match"
