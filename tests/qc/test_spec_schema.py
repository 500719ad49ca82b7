"""QC specification schema: one test per validation rule, plus the specifications we ship."""

import dataclasses
import json
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from app.common.yamlfile import DefinitionError
from app.qc.spec_schema import SpecDef, TestDef, parse_spec

pytestmark = pytest.mark.req("URS-QC-001")

SPEC_DIR = Path(__file__).resolve().parents[2] / "qc_specs"

# Lines 1-6; the first test's "- code:" is line 7.
HEADER = """\
code: P1-DP
product: P1
version: 1
title: Example specification
material: drug product
tests:
"""

VIABILITY = """\
- code: VIAB
  name: Viability
  method: In-house SOP 12
  type: quantitative
  unit: "%"
  decimals: 1
  acceptance:
    min: 90.0
  required_for_release: true
"""

STERILITY = """\
- code: STER
  name: Sterility
  method: USP <71>
  type: qualitative
  acceptance:
    accepted: [No growth]
  required_for_release: true
"""


def spec(*tests: str, header: str = HEADER) -> str:
    """Return a specification text with these test blocks under `tests:`."""
    return header + "".join(textwrap.indent(textwrap.dedent(t), "  ") for t in tests)


def problems_of(text: str, filename: str = "spec.yaml") -> list[str]:
    """Return the problems parse_spec reports for the text (and fail if it accepts it)."""
    with pytest.raises(DefinitionError) as caught:
        parse_spec(text, filename)
    return caught.value.problems


def numeric(acceptance: str, extra: str = "", decimals: str = "2") -> str:
    """Return a limit test block with this acceptance mapping (and extra keys)."""
    return (
        "- code: T1\n  name: Test one\n  method: SOP\n  type: limit\n  unit: '%'\n"
        f"  decimals: {decimals}\n  acceptance:\n"
        + textwrap.indent(textwrap.dedent(acceptance), "    ")
        + textwrap.indent(textwrap.dedent(extra), "  ")
        + "  required_for_release: true\n"
    )


def test_valid_spec_parses_into_exact_frozen_definitions():
    parsed = parse_spec(spec(VIABILITY, STERILITY), "spec.yaml")
    assert (parsed.code, parsed.product, parsed.version) == ("P1-DP", "P1", 1)
    viability = parsed.test("VIAB")
    assert viability.min == Decimal("90.0") and viability.min.as_tuple().exponent == -1
    assert (viability.max, viability.min_inclusive, viability.decimals) == (None, True, 1)
    assert viability.acceptance_text == "≥ 90.0 %"
    assert parsed.test("STER").accepted == ("No growth",)
    assert parsed.test("STER").acceptance_text == "No growth"
    with pytest.raises(dataclasses.FrozenInstanceError):
        viability.min = Decimal("1")  # type: ignore[misc]


@pytest.mark.req("URS-DAT-005")
def test_to_dict_is_json_with_decimals_as_strings():
    data = json.loads(json.dumps(parse_spec(spec(VIABILITY, STERILITY), "s.yaml").to_dict()))
    assert data["version"] == 1
    assert data["tests"][0]["min"] == "90.0"
    assert data["tests"][1]["accepted"] == ["No growth"]


def test_unknown_test_code_is_a_key_error_naming_the_spec():
    with pytest.raises(KeyError, match="P1-DP v1 has no test 'NOPE'"):
        parse_spec(spec(VIABILITY), "s.yaml").test("NOPE")


def test_acceptance_text_generated_for_each_bound_shape():
    text = spec(
        numeric("max: 0.10\nmax_inclusive: false\n"),
        numeric("min: 4.00\nmax: 6.00\n").replace("T1", "T2"),
        numeric("min: 1.00\nmin_inclusive: false\nmax: 2.00\n").replace("T1", "T3"),
    )
    parsed = parse_spec(text, "s.yaml")
    assert [t.acceptance_text for t in parsed.tests] == [
        "< 0.10 %", "4.00 to 6.00 %", "> 1.00 and ≤ 2.00 %"]


def test_given_acceptance_text_is_kept():
    block = STERILITY.replace("  required", "  acceptance_text: No growth after 14 days\n  required")
    assert parse_spec(spec(block), "s.yaml").test("STER").acceptance_text == (
        "No growth after 14 days")


def test_unknown_keys_are_refused_with_their_line():
    text = spec(VIABILITY.replace("  decimals: 1", "  decimals: 1\n  limit: 95"))
    text = text.replace("material: drug product", "material: drug product\nowner: QA")
    problems = problems_of(text)
    assert "spec.yaml:6: specification: unknown key 'owner'" in problems[0]
    assert any(p.startswith("spec.yaml:14: test VIAB: unknown key 'limit'") for p in problems)


def test_misspelt_acceptance_key_is_refused_not_ignored():
    problems = problems_of(spec(numeric("max: 0.10\nmax_inclusiv: false\n")))
    assert any("unknown key 'max_inclusiv'" in p for p in problems)


def test_missing_required_keys_are_reported():
    text = spec(VIABILITY.replace("  method: In-house SOP 12\n", ""))
    text = text.replace("title: Example specification\n", "")
    problems = problems_of(text)
    assert "spec.yaml:1: specification: missing required key 'title'" in problems
    assert "spec.yaml:6: test VIAB: missing required key 'method'" in problems


def test_duplicate_test_codes_are_refused_with_both_lines():
    problems = problems_of(spec(VIABILITY, VIABILITY))
    assert problems == ["spec.yaml:16: test VIAB: duplicate test code (first at line 7)"]


def test_quantitative_test_needs_decimals():
    problems = problems_of(spec(VIABILITY.replace("  decimals: 1\n", "")))
    assert problems == ["spec.yaml:7: test VIAB: missing required key 'decimals'"]


def test_numeric_test_needs_at_least_one_bound():
    problems = problems_of(spec(numeric("min_inclusive: true\n")))
    assert "give at least one of 'min' and 'max'" in problems[-1]


@pytest.mark.parametrize("bound", ["abc", ".nan", ".inf", "'1,5'", "[1, 2]", "true", "1e999"])
def test_bounds_must_be_numbers(bound):
    problems = problems_of(spec(numeric(f"max: {bound}\n")))
    assert problems[0].startswith("spec.yaml:14: test T1 acceptance: 'max' must be a number")


def test_min_must_not_exceed_max():
    problems = problems_of(spec(numeric("min: 2.00\nmax: 1.00\n")))
    assert problems == ["spec.yaml:14: test T1 acceptance: min 2.00 must be below max 1.00"]


def test_equal_bounds_are_an_empty_range_when_either_is_exclusive():
    problems_of(spec(numeric("min: 1.00\nmax: 1.00\nmax_inclusive: false\n")))
    assert parse_spec(spec(numeric("min: 1.00\nmax: 1.00\n")), "s.yaml").tests[0].min == 1


def test_inclusive_flags_must_be_booleans_and_have_their_bound():
    problems = problems_of(spec(numeric("max: 1.00\nmax_inclusive: 'no'\nmin_inclusive: true\n")))
    assert any("'max_inclusive' must be true or false" in p for p in problems)
    assert any("'min_inclusive' given without 'min'" in p for p in problems)


def test_bounds_may_not_have_more_decimals_than_reported():
    problems = problems_of(spec(numeric("max: 0.105\n")))
    assert "max 0.105 has 3 decimals but results are reported to 2" in problems[0]


@pytest.mark.parametrize(
    ("alert", "ok"),
    [("max: 0.05\n", True), ("max: 0.10\n", True), ("max: 0.20\n", False),
     ("min: 0.02\nmax: 0.01\n", False), ("{}\n", False)],
)
def test_alert_limits_lie_inside_the_acceptance_limits(alert, ok):
    text = spec(numeric("max: 0.10\n", extra="alert:\n" + textwrap.indent(alert, "  ")))
    if ok:
        assert parse_spec(text, "s.yaml").tests[0].alert_max <= Decimal("0.10")
    else:
        assert any("alert" in p for p in problems_of(text))


def test_alert_outside_is_reported_at_the_alert_line():
    text = spec(VIABILITY.replace("  required", "  alert:\n    min: 85.0\n  required"))
    assert problems_of(text) == [
        "spec.yaml:15: test VIAB alert: the alert limits ≥ 85.0 must lie inside the "
        "acceptance limits ≥ 90.0"]


@pytest.mark.parametrize("accepted", ["[]", "''", "[No growth, null]", "[No growth, ' no GROWTH']"])
def test_qualitative_test_needs_non_empty_distinct_accepted_texts(accepted):
    problems = problems_of(spec(STERILITY.replace("[No growth]", accepted)))
    assert problems[0].startswith("spec.yaml:12: test STER: 'accepted'")


def test_qualitative_test_refuses_numeric_keys():
    block = STERILITY.replace("  required", "  decimals: 1\n  loq: 0.1\n  required")
    problems = problems_of(spec(block))
    assert problems == [
        "spec.yaml:13: test STER: 'decimals' is only for quantitative and limit tests",
        "spec.yaml:14: test STER: 'loq' is only for quantitative and limit tests"]


@pytest.mark.parametrize("decimals", ["-1", "1.5", "two", "''", "11"])
def test_decimals_is_a_small_non_negative_integer(decimals):
    problems = problems_of(spec(VIABILITY.replace("decimals: 1", f"decimals: {decimals}")))
    assert problems[0].startswith("spec.yaml:12: test VIAB: 'decimals' must be")


@pytest.mark.parametrize(
    ("loq", "message"),
    [("abc", "'loq' must be a number"), ("0", "'loq' must be positive"),
     ("0.10", "loq 0.10 must be below the maximum 0.10")],
)
def test_loq_is_numeric_positive_and_below_an_exclusive_maximum(loq, message):
    text = spec(numeric("max: 0.10\nmax_inclusive: false\n", extra=f"loq: {loq}\n"))
    assert message in problems_of(text)[0]


def test_loq_may_equal_an_inclusive_maximum():
    assert parse_spec(spec(numeric("max: 0.10\n", extra="loq: 0.10\n")), "s.yaml").tests[0].loq


def test_unknown_type_is_refused():
    problems = problems_of(spec(STERILITY.replace("type: qualitative", "type: visual")))
    assert problems == ["spec.yaml:10: test STER: type 'visual' must be one of quantitative, "
                        "qualitative, limit"]


def test_required_for_release_must_be_a_boolean():
    problems = problems_of(spec(STERILITY.replace("release: true", "release: 1")))
    assert problems == ["spec.yaml:13: test STER: 'required_for_release' must be true or false"]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [("version: 1", "version: 1.0", "spec.yaml:3: specification: 'version' must be"),
     ("version: 1", "version: 0", "spec.yaml:3: specification: 'version' starts at 1"),
     ("material: drug product", "material: plasma", "spec.yaml:5: specification: material"),
     ("code: P1-DP", "code: P2-DP", "spec.yaml:1: specification: code 'P2-DP' must start"),
     ("product: P1", "product: p 1", "spec.yaml:2: specification: product 'p 1' must be")],
)
def test_header_fields_are_validated(old, new, message):
    assert problems_of(spec(VIABILITY, header=HEADER.replace(old, new)))[0].startswith(message)


@pytest.mark.parametrize("tests", ["[]", "", "[1, 2]"])
def test_tests_must_be_a_non_empty_list_of_mappings(tests):
    problems = problems_of(HEADER.replace("tests:", f"tests: {tests}"))
    assert problems[0].startswith("spec.yaml:6: ")
    assert "non-empty list" in problems[0] or "a test is a mapping" in problems[0]


def test_file_name_must_agree_with_product_and_version():
    problems = problems_of(spec(VIABILITY), "qc_specs/P9.v2.yaml")
    assert problems == [
        "qc_specs/P9.v2.yaml:2: specification: product 'P1' does not match the file name "
        "'P9.v2.yaml'",
        "qc_specs/P9.v2.yaml:3: specification: version 1 does not match the file name "
        "'P9.v2.yaml'"]
    assert parse_spec(spec(VIABILITY), "qc_specs/P1.v1.yaml").version == 1


def test_all_problems_are_reported_at_once():
    text = spec(VIABILITY.replace("min: 90.0", "min: abc"), STERILITY.replace("[No growth]", "[]"))
    text = text.replace("version: 1", "version: x")
    problems = problems_of(text)
    assert [p.split(":")[1] for p in problems] == ["3", "14", "21"]


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "spec.yaml:1: a specification is a mapping"),
     ("- a\n- b\n", "spec.yaml:1: a specification is a mapping"),
     ("code: [1\n", "spec.yaml:2: YAML syntax"),
     (HEADER + "code: again\n", "spec.yaml:7: YAML syntax: duplicate key 'code'")],
)
def test_unreadable_documents_are_refused_with_a_line(text, message):
    assert problems_of(text)[0].startswith(message)


def load_shipped(name: str) -> SpecDef:
    """Parse a specification shipped in qc_specs/."""
    path = SPEC_DIR / name
    return parse_spec(path.read_text(encoding="utf-8"), f"qc_specs/{name}")


COMMON_TESTS = {
    "APPEARANCE", "VIABILITY", "ID-FLOW", "UNDIFF-FLOW", "UNDIFF-QPCR-POU5F1",
    "UNDIFF-QPCR-LIN28", "STERILITY", "MYCOPLASMA", "ENDOTOXIN", "VECTOR-QPCR", "GENOME",
    "STR", "VCC", "DOSE-VIAL", "POSTTHAW-VIABILITY",
}


@pytest.mark.req("URS-QC-009")
def test_shipped_parkinson_spec_loads_with_the_published_tests():
    parsed = load_shipped("XS411-DA-NPC.v1.yaml")
    assert (parsed.code, parsed.product, parsed.material) == (
        "XS411-DA-NPC-DP", "XS411-DA-NPC", "drug product")
    assert {t.code for t in parsed.tests} == COMMON_TESTS | {"OFFTARGET-FLOW"}
    viability = parsed.test("VIABILITY")
    assert (viability.min, viability.min_inclusive, viability.decimals) == (90, False, 1)
    assert parsed.test("ENDOTOXIN").acceptance_text == "≤ 1.0 EU/mL"
    assert parsed.test("UNDIFF-FLOW").acceptance_text == "< 0.10 %"
    assert parsed.test("UNDIFF-FLOW").loq == Decimal("0.01")
    assert parsed.test("STERILITY").accepted == ("No growth",)
    assert parsed.test("MYCOPLASMA").method.endswith("Ph. Eur. 2.6.7")
    json.dumps(parsed.to_dict())


@pytest.mark.req("URS-QC-009")
def test_shipped_als_spec_uses_the_intrathecal_endotoxin_limit():
    parsed = load_shipped("XS228-MN-NPC.v1.yaml")
    assert {t.code for t in parsed.tests} == COMMON_TESTS
    assert "(check)" in parsed.test("ID-FLOW").name
    # K/M per USP <85>: K = 0.2 EU/kg intrathecal, 70 kg, 5.0e7 cells in 1.0 mL.
    k, weight, volume = Decimal("0.2"), Decimal(70), Decimal("5.0e7") / Decimal("5.0e7")
    assert parsed.test("ENDOTOXIN").max == k * weight / volume == Decimal("14.0")


@pytest.mark.req("URS-QC-009")
@pytest.mark.parametrize("name", ["XS411-DA-NPC.v1.yaml", "XS228-MN-NPC.v1.yaml"])
def test_shipped_specs_give_every_test_a_method_and_release_flag(name):
    parsed = load_shipped(name)
    assert all(isinstance(t, TestDef) and t.method and t.acceptance_text for t in parsed.tests)
    assert parsed.required_tests == parsed.tests  # all release tests are required
