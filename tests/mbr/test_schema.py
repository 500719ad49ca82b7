"""Master batch record schema: every validation rule, the shipped templates, input types."""

import copy
import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.mbr.schema import (
    ACTION,
    ALERT,
    INPUT_TYPES,
    WITHIN,
    ChoiceInput,
    DateTimeInput,
    DecimalInput,
    DefinitionError,
    EquipmentInput,
    InputError,
    IntegerInput,
    Limits,
    MaterialInput,
    QuantitySpec,
    TemplateDef,
    TextInput,
    TimerInput,
    YesNoInput,
    parse_template,
)

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ["XS411-DA-NPC.v1.yaml", "XS228-MN-NPC.v1.yaml"]
FILE = "t.yaml"


# ------------------------------------------------------------------ helpers


def minimal() -> dict[str, Any]:
    """Return a small valid template as data, to dump and mutate."""
    return {
        "code": "MIN-TEST",
        "version": 1,
        "title": "Minimal",
        "product": "Test cells",
        "description": "Minimal valid template for schema tests.",
        "bill_of_materials": [{"code": "MED", "name": "Medium", "unit": "mL"}],
        "equipment_types": [{"code": "BSC", "name": "Biosafety cabinet"}],
        "yield_stages": [
            {
                "code": "HARVEST",
                "name": "Harvest",
                "theoretical": "100",
                "unit": "10^6 cells",
                "min_percent": "50",
                "max_percent": "150",
                "actual_from": "UP1.OP1.S2.cells",
            },
        ],
        "unit_procedures": [
            {
                "code": "UP1",
                "name": "Only",
                "operations": [
                    {
                        "code": "OP1",
                        "name": "Op",
                        "steps": [
                            {
                                "code": "UP1.OP1.S1",
                                "title": "Prepare",
                                "instruction": "Prepare.",
                                "inputs": [
                                    {
                                        "name": "medium",
                                        "label": "Medium lot",
                                        "type": "material",
                                        "bom": "MED",
                                        "quantity": {"unit": "mL", "decimals": 0},
                                    },
                                    {"name": "bsc", "label": "Cabinet", "type": "equipment", "equipment_type": "BSC"},
                                ],
                            },
                            {
                                "code": "UP1.OP1.S2",
                                "title": "Count",
                                "instruction": "Count.",
                                "critical": True,
                                "inputs": [
                                    {
                                        "name": "cells",
                                        "label": "Viable cells",
                                        "type": "decimal",
                                        "unit": "10^6 cells",
                                        "decimals": 1,
                                    },
                                    {
                                        "name": "viability",
                                        "label": "Viability",
                                        "type": "decimal",
                                        "unit": "%",
                                        "decimals": 1,
                                        "min": "0",
                                        "max": "100",
                                        "alert": {"min": "85.0"},
                                        "action": {"min": "80.0"},
                                    },
                                ],
                            },
                            {
                                "code": "UP1.OP1.S3",
                                "title": "Fill",
                                "instruction": "Fill.",
                                "hold": [{"after": "UP1.OP1.S1", "max_minutes": 60}],
                                "inputs": [
                                    {"name": "look", "label": "Look", "type": "choice", "options": ["Clear", "Turbid"]},
                                ],
                            },
                        ],
                    },
                ],
            },
        ],
    }


def steps(data: dict[str, Any]) -> list[dict[str, Any]]:
    return data["unit_procedures"][0]["operations"][0]["steps"]


def dump(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1000)


def line_of(text: str, needle: str, nth: int = 1) -> int:
    """Return the 1-based line of the nth line containing `needle` ('$' anchors at the end)."""
    if needle.endswith("$"):
        hits = [n for n, line in enumerate(text.splitlines(), 1) if line.endswith(needle[:-1])]
    else:
        hits = [n for n, line in enumerate(text.splitlines(), 1) if needle in line]
    assert len(hits) >= nth, f"{needle!r} not found {nth} times"
    return hits[nth - 1]


def problems_of(data: dict[str, Any] | str) -> list[str]:
    text = data if isinstance(data, str) else dump(data)
    with pytest.raises(DefinitionError) as info:
        parse_template(text, FILE)
    return info.value.problems


def assert_problem(data: dict[str, Any], needle: str, message: str, nth: int = 1) -> None:
    """Assert the template is refused with `message` at the line holding `needle`."""
    text = dump(data)
    problems = problems_of(text)
    expected = f"{FILE}:{line_of(text, needle, nth)}: "
    assert any(p.startswith(expected) and message in p for p in problems), problems


def load(path: Path) -> TemplateDef:
    return parse_template(path.read_text(encoding="utf-8"), str(path))


# ------------------------------------------------------------------ the valid baseline


@pytest.mark.req("URS-MBR-002")
def test_minimal_template_parses_with_resolved_structure() -> None:
    t = parse_template(dump(minimal()), FILE)
    assert [s.code for s in t.steps] == ["UP1.OP1.S1", "UP1.OP1.S2", "UP1.OP1.S3"]
    assert t.step("UP1.OP1.S2").signatures == ("performed", "verified")
    assert t.step("UP1.OP1.S1").signatures == ("performed",)
    assert t.step("UP1.OP1.S3").prerequisites == ("UP1.OP1.S2",)
    assert t.step("UP1.OP1.S1").prerequisites == ()
    viability = t.step("UP1.OP1.S2").input("viability")
    assert isinstance(viability, DecimalInput)
    assert viability.action == Limits(Decimal("80.0"), None)
    assert str(viability.alert.min) == "85.0"  # written digits kept


@pytest.mark.req("URS-MBR-001")
def test_unknown_step_lookup_raises_key_error() -> None:
    t = parse_template(dump(minimal()), FILE)
    with pytest.raises(KeyError):
        t.step("UP9.OP9.S9")


# ------------------------------------------------------------------ keys and types


@pytest.mark.req("URS-MBR-001")
def test_missing_required_key_is_reported_at_its_mapping() -> None:
    data = minimal()
    del steps(data)[1]["title"]
    assert_problem(data, "code: UP1.OP1.S2", "step 'UP1.OP1.S2': missing required key 'title'")


@pytest.mark.req("URS-MBR-001")
def test_missing_top_level_key_is_reported() -> None:
    data = minimal()
    del data["product"]
    assert_problem(data, "code: MIN-TEST", "template: missing required key 'product'")


@pytest.mark.req("URS-MBR-001")
def test_unknown_key_is_refused_with_a_suggestion() -> None:
    data = minimal()
    steps(data)[0]["instrucion"] = "typo"
    assert_problem(data, "instrucion:", "unknown key 'instrucion' (did you mean 'instruction'?)")


@pytest.mark.req("URS-MBR-001")
def test_unknown_input_key_is_refused() -> None:
    data = minimal()
    steps(data)[1]["inputs"][1]["decimal"] = 1
    assert_problem(data, "decimal: 1", "input 'viability': unknown key 'decimal'")


@pytest.mark.req("URS-MBR-001")
@pytest.mark.parametrize(
    ("mutate", "needle", "message"),
    [
        (lambda d: d.update(version="one"), "version:", "'version' must be a whole number"),
        (lambda d: d.update(version="1.0"), "version:", "'version' must be a whole number"),
        (lambda d: d.update(version=0), "version:", "'version' must be at least 1"),
        (lambda d: steps(d)[1].update(critical="yes"), "critical:", "'critical' must be true or false"),
        (lambda d: steps(d)[0].update(inputs="none"), "inputs: none", "'inputs' must be a list"),
        (lambda d: steps(d)[0].update(title=True), "title: true", "'title' must be text"),
        (lambda d: steps(d)[0].update(code="up1-op1-s1"), "code: up1-op1-s1", "is not a valid code"),
    ],
)
def test_wrong_types_are_refused(mutate: Any, needle: str, message: str) -> None:
    data = minimal()
    mutate(data)
    assert_problem(data, needle, message)


@pytest.mark.req("URS-MBR-001")
def test_step_code_must_start_with_its_unit_procedure_and_operation() -> None:
    data = minimal()
    steps(data)[2]["code"] = "UP2.OP1.S3"
    assert_problem(data, "code: UP2.OP1.S3", "must start with its unit procedure and operation codes: 'UP1.OP1.<step>'")


@pytest.mark.req("URS-MBR-001")
def test_unknown_input_type_is_refused() -> None:
    data = minimal()
    steps(data)[0]["inputs"][0]["type"] = "barcode"
    assert_problem(data, "type: barcode", "unknown input type 'barcode'")


@pytest.mark.req("URS-MBR-001")
def test_yaml_syntax_error_names_the_line() -> None:
    text = dump(minimal()).replace("title: Count", "title: [Count")
    with pytest.raises(DefinitionError) as info:
        parse_template(text, FILE)
    assert info.value.problems[0].startswith(f"{FILE}:")
    assert "YAML syntax" in info.value.problems[0]


# ------------------------------------------------------------------ uniqueness


@pytest.mark.req("URS-MBR-001")
@pytest.mark.parametrize(
    ("mutate", "needle", "nth", "message"),
    [
        (lambda d: steps(d)[2].update(code="UP1.OP1.S2"), "code: UP1.OP1.S2", 2, "duplicate step code 'UP1.OP1.S2'"),
        (
            lambda d: steps(d)[1]["inputs"][1].update(name="cells"),
            "name: cells",
            2,
            "duplicate input name in step 'UP1.OP1.S2' 'cells'",
        ),
        (
            lambda d: d["bill_of_materials"].append({"code": "MED", "name": "x", "unit": "mL"}),
            "code: MED",
            2,
            "duplicate bill of materials code 'MED'",
        ),
        (
            lambda d: d["equipment_types"].append({"code": "BSC", "name": "x"}),
            "code: BSC",
            2,
            "duplicate equipment type code 'BSC'",
        ),
        (
            lambda d: d["yield_stages"].append(dict(d["yield_stages"][0])),
            "code: HARVEST",
            2,
            "duplicate yield stage code 'HARVEST'",
        ),
        (
            lambda d: d["unit_procedures"].append(_second_unit_procedure("UP1")),
            "- code: UP1$",
            2,
            "duplicate unit procedure code 'UP1'",
        ),
    ],
)
def test_duplicate_codes_are_refused(mutate: Any, needle: str, nth: int, message: str) -> None:
    data = minimal()
    mutate(data)
    assert_problem(data, needle, message, nth)


@pytest.mark.req("URS-MBR-001")
def test_duplicate_message_names_the_first_definition() -> None:
    data = minimal()
    steps(data)[2]["code"] = "UP1.OP1.S2"
    text = dump(data)
    first = line_of(text, "code: UP1.OP1.S2")
    assert any(f"(first defined on line {first})" in p for p in problems_of(text))


def _second_unit_procedure(code: str, critical: bool = True) -> dict[str, Any]:
    return {
        "code": code,
        "name": "Second",
        "operations": [
            {
                "code": "OP1",
                "name": "Op",
                "steps": [
                    {
                        "code": f"{code}.OP1.S1",
                        "title": "Check",
                        "instruction": "Check.",
                        "critical": critical,
                        "inputs": [{"name": "ok", "label": "OK", "type": "yes_no", "expected": "yes"}],
                    },
                ],
            },
        ],
    }


# ------------------------------------------------------------------ references


@pytest.mark.req("URS-MBR-001", "URS-MBR-002")
@pytest.mark.parametrize(
    ("mutate", "needle", "message"),
    [
        (lambda d: steps(d)[2].update(requires=["UP1.OP1.S9"]), "requires:", "requires unknown step 'UP1.OP1.S9'"),
        (
            lambda d: steps(d)[2]["hold"][0].update(after="UP1.OP1.S7"),
            "after: UP1.OP1.S7",
            "after unknown step 'UP1.OP1.S7'",
        ),
        (
            lambda d: steps(d)[0]["inputs"][0].update(bom="MEDIUM"),
            "bom: MEDIUM",
            "unknown bill of materials item 'MEDIUM'",
        ),
        (
            lambda d: steps(d)[0]["inputs"][1].update(equipment_type="BSC2"),
            "equipment_type: BSC2",
            "unknown equipment type 'BSC2' (did you mean 'BSC'?)",
        ),
        (
            lambda d: d["yield_stages"][0].update(actual_from="UP1.OP1.S2.cels"),
            "actual_from:",
            "actual_from 'UP1.OP1.S2.cels' names no step input",
        ),
        (
            lambda d: d["yield_stages"][0].update(actual_from="UP1.OP1.S3.look"),
            "actual_from:",
            "must be a decimal or integer input, not choice",
        ),
        (
            lambda d: d["yield_stages"][0].update(unit="cells"),
            "actual_from:",
            "is in '10^6 cells', the stage in 'cells'",
        ),
    ],
)
def test_references_must_resolve(mutate: Any, needle: str, message: str) -> None:
    data = minimal()
    mutate(data)
    assert_problem(data, needle, message)


@pytest.mark.req("URS-MBR-002")
def test_yield_input_must_be_required() -> None:
    data = minimal()
    steps(data)[1]["inputs"][0]["required"] = False
    assert_problem(data, "actual_from:", "must be a required input")


@pytest.mark.req("URS-MBR-002")
def test_unused_bill_of_materials_item_is_refused() -> None:
    data = minimal()
    data["bill_of_materials"].append({"code": "SPARE", "name": "Spare", "unit": "mL"})
    assert_problem(data, "code: SPARE", "bill of materials item 'SPARE' is used by no step")


@pytest.mark.req("URS-MBR-002")
def test_material_quantity_unit_must_match_the_bill_of_materials() -> None:
    data = minimal()
    steps(data)[0]["inputs"][0]["quantity"]["unit"] = "µL"
    assert_problem(data, "quantity:", "quantity unit 'µL' differs from the bill of materials unit 'mL'")


# ------------------------------------------------------------------ limits


@pytest.mark.req("URS-MBR-001", "URS-MBR-002")
@pytest.mark.parametrize(
    ("mutate", "needle", "message"),
    [
        (lambda i: i["alert"].update(min="abc"), "min: abc", "alert: 'min' must be a number"),
        (lambda i: i["action"].update(min="NaN"), "min: NaN", "action: 'min' must be a number"),
        (
            lambda i: i["action"].update(min="90.0"),
            "alert:",
            "limits out of order: action.min 90.0 is above alert.min 85.0",
        ),
        (
            lambda i: i["alert"].update(max="101.0"),
            "max: '100'",
            "limits out of order: alert.max 101.0 is above max 100",
        ),
        (lambda i: i.update(min="90"), "action:", "limits out of order: min 90 is above action.min 80.0"),
        (lambda i: i.update(decimals="-1"), "decimals: '-1'", "'decimals' must be at least 0"),
        (lambda i: i.update(decimals="1.5"), "decimals: '1.5'", "'decimals' must be a whole number"),
        (
            lambda i: i["alert"].update(min="85.05"),
            "alert:",
            "alert.min 85.05 has more decimal places than decimals (1)",
        ),
        (lambda i: i.update(alert={}), "alert: {}", "needs 'min' or 'max'"),
    ],
)
def test_decimal_limits_must_be_numeric_and_ordered(mutate: Any, needle: str, message: str) -> None:
    data = minimal()
    mutate(steps(data)[1]["inputs"][1])
    assert_problem(data, needle, message)


@pytest.mark.req("URS-MBR-001")
def test_integer_min_above_max_is_refused() -> None:
    data = minimal()
    steps(data)[2]["inputs"].append({"name": "vials", "label": "Vials", "type": "integer", "min": 10, "max": 5})
    assert_problem(data, "name: vials", "limits out of order: min 10 is above max 5")


@pytest.mark.req("URS-MBR-001")
@pytest.mark.parametrize(
    ("options", "needle", "message"),
    [
        ([], "options: []", "'options' must list at least one option"),
        (["Clear", "Clear"], "- Clear", "duplicate option 'Clear' in options"),
    ],
)
def test_choice_options_must_be_non_empty_and_unique(options: list[str], needle: str, message: str) -> None:
    data = minimal()
    steps(data)[2]["inputs"][0]["options"] = options
    nth = 2 if options == ["Clear", "Clear"] else 1
    assert_problem(data, needle, message, nth)


@pytest.mark.req("URS-MBR-001")
def test_choice_action_option_must_be_an_option() -> None:
    data = minimal()
    steps(data)[2]["inputs"][0]["action_options"] = ["Cloudy"]
    assert_problem(data, "action_options:", "action_options: 'Cloudy' is not one of the options")


@pytest.mark.req("URS-MBR-001")
def test_yes_no_expected_must_be_yes_or_no() -> None:
    data = minimal()
    steps(data)[2]["inputs"].append({"name": "ok", "label": "OK", "type": "yes_no", "expected": "maybe"})
    assert_problem(data, "expected: maybe", "'expected' must be yes or no")


@pytest.mark.req("URS-MBR-001")
def test_bare_yaml_yes_is_read_as_the_answer_yes() -> None:
    data = minimal()
    steps(data)[2]["inputs"].append({"name": "ok", "label": "OK", "type": "yes_no", "expected": "yes"})
    text = dump(data)
    assert "expected: 'yes'" in text
    t = parse_template(text.replace("expected: 'yes'", "expected: yes"), FILE)
    ok = t.step("UP1.OP1.S3").input("ok")
    assert isinstance(ok, YesNoInput) and ok.expected == "yes"


# ------------------------------------------------------------------ holds and prerequisites


@pytest.mark.req("URS-MBR-002")
def test_hold_min_above_max_is_refused() -> None:
    data = minimal()
    steps(data)[2]["hold"][0].update(min_minutes=90, max_minutes=60)
    assert_problem(data, "min_minutes: 90", "min_minutes 90 is above max_minutes 60")


@pytest.mark.req("URS-MBR-002")
def test_hold_needs_min_or_max() -> None:
    data = minimal()
    del steps(data)[2]["hold"][0]["max_minutes"]
    assert_problem(data, "after: UP1.OP1.S1", "hold: needs min_minutes or max_minutes")


@pytest.mark.req("URS-MBR-002")
def test_hold_reference_must_come_earlier() -> None:
    data = minimal()
    steps(data)[1]["hold"] = [{"after": "UP1.OP1.S3", "max_minutes": 30}]
    assert_problem(data, "after: UP1.OP1.S3", "hold after 'UP1.OP1.S3': that step must come earlier in the template")


@pytest.mark.req("URS-MBR-002")
def test_hold_reference_must_be_a_prerequisite() -> None:
    data = minimal()
    steps(data)[1]["requires"] = []  # S2 may start at once: S1 is no longer its ancestor
    steps(data)[2]["requires"] = ["UP1.OP1.S2"]
    assert_problem(data, "after: UP1.OP1.S1", "is not a prerequisite (direct or indirect)")


@pytest.mark.req("URS-MBR-002", "URS-EXE-002")
def test_explicit_requires_allows_parallel_branches() -> None:
    data = minimal()
    steps(data)[2]["requires"] = ["UP1.OP1.S1"]  # fill may run alongside the count
    t = parse_template(dump(data), FILE)
    assert t.step("UP1.OP1.S2").prerequisites == ("UP1.OP1.S1",)
    assert t.step("UP1.OP1.S3").prerequisites == ("UP1.OP1.S1",)
    assert t.step("UP1.OP1.S3").requires == ("UP1.OP1.S1",)
    assert t.step("UP1.OP1.S2").requires is None


@pytest.mark.req("URS-MBR-002")
def test_dependency_cycles_are_refused() -> None:
    data = minimal()
    steps(data)[0]["requires"] = ["UP1.OP1.S3"]  # S1 needs S3, S3 needs S2, S2 needs S1
    del steps(data)[2]["hold"]
    assert_problem(
        data, "requires:", "prerequisites form a cycle (UP1.OP1.S1 needs UP1.OP1.S3 needs UP1.OP1.S2 needs UP1.OP1.S1)"
    )


@pytest.mark.req("URS-MBR-002")
def test_self_requirement_is_a_cycle() -> None:
    data = minimal()
    steps(data)[1]["requires"] = ["UP1.OP1.S2"]
    assert_problem(data, "requires:", "prerequisites form a cycle")


# ------------------------------------------------------------------ structure rules


@pytest.mark.req("URS-MBR-002", "URS-EXE-009")
def test_every_unit_procedure_needs_a_critical_step() -> None:
    data = minimal()
    data["unit_procedures"].append(_second_unit_procedure("UP2", critical=False))
    assert_problem(data, "- code: UP2$", "unit procedure 'UP2' has no critical step")


@pytest.mark.req("URS-MBR-002")
@pytest.mark.parametrize(("low", "high"), [("101", "150"), ("50", "99"), ("-1", "150")])
def test_yield_range_must_include_100_percent(low: str, high: str) -> None:
    data = minimal()
    data["yield_stages"][0].update(min_percent=low, max_percent=high)
    assert_problem(data, "min_percent:", "need 0 <= min_percent <= 100 <= max_percent")


@pytest.mark.req("URS-MBR-002")
def test_yield_stages_are_required() -> None:
    data = minimal()
    data["yield_stages"] = []
    assert_problem(data, "yield_stages: []", "'yield_stages' must not be empty")


@pytest.mark.req("URS-MBR-002")
def test_sample_purpose_must_be_qc_or_ipc() -> None:
    data = minimal()
    steps(data)[2]["sampling"] = [{"sample": "STER", "test": "Sterility", "quantity": "1.0", "unit": "mL", "for": "QA"}]
    assert_problem(data, "for: QA", "'for' must be QC or IPC")


@pytest.mark.req("URS-MBR-002")
def test_sample_codes_are_unique_in_the_template() -> None:
    data = minimal()
    sample = {"sample": "STER", "test": "Sterility", "quantity": "1.0", "unit": "mL", "for": "QC"}
    steps(data)[1]["sampling"] = [dict(sample)]
    steps(data)[2]["sampling"] = [dict(sample)]
    assert_problem(data, "sample: STER", "duplicate sample code 'STER'", 2)


@pytest.mark.req("URS-MBR-001", "URS-EXE-001")
@pytest.mark.parametrize("pattern", ["XS-{yyyy}", "XS-{yyyy}-{seq:04x}", "XS {seq}", "XS-{site}-{seq}", "XS-{seq"])
def test_lot_number_pattern_is_checked(pattern: str) -> None:
    data = minimal()
    data["lot_number_pattern"] = pattern
    assert_problem(data, "lot_number_pattern:", "lot_number_pattern:")


@pytest.mark.req("URS-MBR-001")
def test_file_name_must_match_code_and_version() -> None:
    with pytest.raises(DefinitionError) as info:
        parse_template(dump(minimal()), "batch_templates/MIN-TEST.v2.yaml")
    assert "file name should be MIN-TEST.v1.yaml" in info.value.problems[0]
    assert parse_template(dump(minimal()), "batch_templates/MIN-TEST.v1.yaml").version == 1


@pytest.mark.req("URS-MBR-001")
def test_all_problems_are_collected_at_once_in_line_order() -> None:
    data = minimal()
    data["version"] = "0"
    steps(data)[0]["instrucion"] = "typo"
    steps(data)[1]["inputs"][1]["action"]["min"] = "90.0"
    steps(data)[2]["hold"][0]["after"] = "UP1.OP1.S7"
    problems = problems_of(data)
    assert len(problems) == 4, problems
    lines = [int(p.split(":")[1]) for p in problems]
    assert lines == sorted(lines)
    for fragment in (
        "'version' must be at least 1",
        "unknown key 'instrucion'",
        "action.min 90.0 is above alert.min 85.0",
        "unknown step 'UP1.OP1.S7'",
    ):
        assert any(fragment in p for p in problems), fragment


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    return [prefix] + [p for key, child in children for p in _paths(child, prefix + (key,))]


@pytest.mark.req("URS-MBR-001")
def test_any_malformed_value_is_reported_never_crashes() -> None:
    for path in _paths(minimal())[1:]:
        for junk in (None, {"a": "1"}):
            data = minimal()
            node = data
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = junk
            try:
                parse_template(dump(data), FILE)
            except DefinitionError as exc:
                assert all(p.startswith(f"{FILE}:") for p in exc.problems)


@pytest.mark.req("URS-MBR-001")
def test_empty_file_is_refused() -> None:
    assert "must be a mapping" in problems_of("")[0]


# ------------------------------------------------------------------ shipped templates


@pytest.mark.req("URS-MBR-006")
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_templates_load_with_at_least_40_steps(name: str) -> None:
    t = load(ROOT / "batch_templates" / name)
    assert f"{t.code}.v{t.version}.yaml" == name
    assert len(t.steps) >= 40
    assert all(any(s.critical for s in up.steps) for up in t.unit_procedures)
    assert len({s.code for s in t.steps}) == len(t.steps)
    assert "(check)" in t.description and "examples a facility adapts" in t.description
    json.dumps(t.to_dict())  # the stored structure must be plain JSON


@pytest.mark.req("URS-MBR-006", "URS-MBR-002")
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_templates_record_lots_and_hold_times(name: str) -> None:
    t = load(ROOT / "batch_templates" / name)
    kinds = {type(i) for s in t.steps for i in s.inputs}
    assert {MaterialInput, EquipmentInput, DecimalInput, YesNoInput, ChoiceInput} <= kinds
    holds = {(h.after, s.code): h.max_minutes for s in t.steps for h in s.hold}
    assert holds[("UP1.OP2.S2", "UP1.OP2.S5")] == 30  # thaw -> seed
    assert t.yield_stages and all(t.resolve_input(y.actual_from) for y in t.yield_stages)
    purposes = {sample.purpose for s in t.steps for sample in s.sampling}
    assert purposes == {"QC", "IPC"}


@pytest.mark.req("URS-MBR-006")
def test_da_template_hold_windows_and_panel() -> None:
    t = load(ROOT / "batch_templates" / "XS411-DA-NPC.v1.yaml")
    freeze = t.step("UP7.OP1.S1")
    assert {h.after: h.max_minutes for h in freeze.hold}["UP6.OP2.S1"] == 120
    assert {h.after: h.max_minutes for h in t.step("UP6.OP3.S4").hold} == {"UP6.OP3.S2": 60}
    panel = {i.name for i in t.step("UP8.OP1.S2").inputs}
    assert {"en1", "lmx1a", "foxa2", "otx2", "foxg1"} <= panel
    # The qPCR run branches off the harvest count and runs alongside formulation.
    assert t.step("UP8.OP1.S1").prerequisites == ("UP6.OP2.S3",)


@pytest.mark.req("URS-MBR-002")
def test_short_test_template_covers_every_input_type() -> None:
    t = load(ROOT / "tests" / "data" / "templates" / "SHORT-TEST.v1.yaml")
    assert len(t.unit_procedures) == 2 and len(t.steps) == 6
    assert {i.type for s in t.steps for i in s.inputs} == set(INPUT_TYPES)
    assert sum(bool(s.hold) for s in t.steps) == 1 and len(t.yield_stages) == 1
    assert t.step("UP2.OP1.S3").prerequisites == ("UP2.OP1.S1",)


@pytest.mark.req("URS-DAT-005")
def test_to_dict_keeps_decimal_digits_as_strings() -> None:
    data = parse_template(dump(minimal()), FILE).to_dict()
    step = data["unit_procedures"][0]["operations"][0]["steps"][1]
    assert step["inputs"][1]["action"] == {"min": "80.0", "max": None}
    assert step["signatures"] == ["performed", "verified"]
    assert data["yield_stages"][0]["theoretical"] == "100"
    assert "line" not in step and data["format"] == 2


# ------------------------------------------------------------------ evaluation


def viability() -> DecimalInput:
    return DecimalInput(
        name="viability",
        label="Viability",
        unit="%",
        decimals=1,
        min=Decimal("0"),
        max=Decimal("100"),
        alert=Limits(Decimal("85.0"), None),
        action=Limits(Decimal("80.0"), None),
    )


@pytest.mark.req("URS-EXE-004")
@pytest.mark.parametrize(
    ("entered", "level", "reported"),
    [
        ("79.95", ALERT, "80.0"),  # rounds half up onto the action limit: alert, not action
        ("79.94", ACTION, "79.9"),
        ("80.0", ALERT, "80.0"),  # exactly the action limit is inside it, below the alert
        ("84.95", WITHIN, "85.0"),
        ("84.94", ALERT, "84.9"),
        ("97.2", WITHIN, "97.2"),
    ],
)
def test_decimal_evaluation_rounds_half_up_before_comparing(entered: str, level: str, reported: str) -> None:
    inp = viability()
    value = inp.validate(entered)
    assert str(value) == entered  # stored exactly as entered
    result = inp.evaluate(value)
    assert (result.level, str(result.reported)) == (level, reported)


@pytest.mark.req("URS-EXE-004")
@pytest.mark.parametrize(
    ("entered", "level"), [("79.95", WITHIN), ("79.94", ACTION), ("80.0", WITHIN), ("120.05", WITHIN)]
)
def test_action_limit_boundary_with_usp_rounding(entered: str, level: str) -> None:
    inp = DecimalInput(name="v", label="Viability", unit="%", decimals=1, action=Limits(Decimal("80.0"), None))
    assert inp.evaluate(inp.validate(entered)).level == level


@pytest.mark.req("URS-EXE-004")
def test_decimal_evaluation_order_of_flags() -> None:
    inp = viability()
    result = inp.evaluate(Decimal("70"))
    assert result.action and not result.alert and not result.within
    assert "action" in result.reason


@pytest.mark.req("URS-EXE-010", "URS-EXE-011")
def test_yield_and_hold_evaluation() -> None:
    t = load(ROOT / "tests" / "data" / "templates" / "SHORT-TEST.v1.yaml")
    stage = t.yield_stages[0]
    # Limits 50 and 150 have no decimals, so the % is rounded to whole numbers first.
    assert stage.evaluate(Decimal("49.4")).action  # 49.4 % -> 49 %
    assert stage.evaluate(Decimal("49.5")).within  # 49.5 % -> 50 %
    assert stage.evaluate(Decimal("150.5")).action  # 150.5 % -> 151 %
    hold = t.step("UP1.OP1.S3").hold[0]
    assert hold.evaluate(timedelta(minutes=60)).within
    assert hold.evaluate(timedelta(minutes=60, seconds=1)).action


# ------------------------------------------------------------------ input validation


@pytest.mark.req("URS-EXE-003", "URS-DAT-005")
@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-inf", "abc", "80,5", "1_000", "8 0", "0x10", "", "   "])
def test_decimal_refuses_bad_text(bad: str) -> None:
    with pytest.raises(InputError):
        viability().validate(bad)


@pytest.mark.req("URS-EXE-003")
def test_decimal_refuses_values_beyond_hard_bounds() -> None:
    with pytest.raises(InputError, match="above the maximum 100"):
        viability().validate("100.1")
    assert viability().validate("100.04") == Decimal("100.04")  # rounds to 100.0


@pytest.mark.req("URS-EXE-003")
def test_optional_input_accepts_empty() -> None:
    inp = TextInput(name="comment", label="Comment", required=False)
    assert inp.validate("  ") is None and inp.validate(None) is None


@pytest.mark.req("URS-EXE-003")
def test_validate_refuses_non_text() -> None:
    with pytest.raises(TypeError):
        viability().validate(80.5)  # type: ignore[arg-type]


@pytest.mark.req("URS-EXE-003")
def test_integer_validation() -> None:
    inp = IntegerInput(name="vials", label="Vials", min=0, max=60)
    assert inp.validate(" 12 ") == 12
    for bad in ("3.0", "1e2", "61", "-1", "twelve", ""):
        with pytest.raises(InputError):
            inp.validate(bad)


@pytest.mark.req("URS-EXE-003")
def test_text_validation() -> None:
    inp = TextInput(name="id", label="Sample ID", max_length=5)
    assert inp.validate(" A-123 ") == "A-123"
    with pytest.raises(InputError, match="at most 5 characters"):
        inp.validate("A-1234")
    with pytest.raises(InputError, match="required"):
        inp.validate("")


@pytest.mark.req("URS-EXE-003", "URS-EXE-004")
def test_choice_validation_and_evaluation() -> None:
    inp = ChoiceInput(
        name="look",
        label="Look",
        options=("Typical", "Minor", "Atypical"),
        alert_options=("Minor",),
        action_options=("Atypical",),
    )
    assert inp.validate("Typical") == "Typical"
    with pytest.raises(InputError, match="not one of"):
        inp.validate("typical-ish")
    assert inp.evaluate("Minor").alert and inp.evaluate("Atypical").action
    assert inp.evaluate("Typical").within


@pytest.mark.req("URS-EXE-003", "URS-EXE-004")
def test_yes_no_validation_and_expected_answer() -> None:
    inp = YesNoInput(name="ok", label="OK", expected="yes")
    assert inp.validate("YES") == "yes" and inp.validate("no") == "no"
    with pytest.raises(InputError):
        inp.validate("maybe")
    assert inp.evaluate("no").action and inp.evaluate("yes").within


@pytest.mark.req("URS-EXE-003", "URS-EXE-006")
def test_material_validation() -> None:
    inp = MaterialInput(name="medium", label="Medium", bom="MED", quantity=QuantitySpec("mL", 0))
    assert inp.validate(" LOT-2025/001 ") == "LOT-2025/001"
    with pytest.raises(InputError):
        inp.validate("x" * 65)
    with pytest.raises(InputError):
        inp.validate("LOT\t1")
    assert inp.validate_quantity("250") == Decimal("250")
    for bad in ("0", "-5", "NaN", ""):
        with pytest.raises(InputError):
            inp.validate_quantity(bad)


@pytest.mark.req("URS-EXE-003")
def test_material_without_quantity_refuses_a_quantity() -> None:
    with pytest.raises(InputError):
        MaterialInput(name="m", label="M", bom="MED").validate_quantity("1")


@pytest.mark.req("URS-EXE-003", "URS-EXE-007")
def test_equipment_validation() -> None:
    inp = EquipmentInput(name="bsc", label="BSC", equipment_type="BSC")
    assert inp.validate("BSC-03") == "BSC-03"
    with pytest.raises(InputError):
        inp.validate("")


@pytest.mark.req("URS-EXE-003")
def test_datetime_validation() -> None:
    inp = DateTimeInput(name="at", label="At")
    assert inp.validate("2025-03-01T14:05").hour == 14
    assert inp.validate("2025-03-01T14:05+01:00").utcoffset() == timedelta(hours=1)
    for bad in ("2025-03-01", "yesterday", "2025-13-01T10:00"):
        with pytest.raises(InputError):
            inp.validate(bad)


@pytest.mark.req("URS-EXE-003")
def test_timer_validation_and_limits() -> None:
    inp = TimerInput(name="t", label="Thaw", min_minutes=1, max_minutes=3)
    value = inp.validate("2025-03-01T14:05:00/2025-03-01T14:07:30")
    result = inp.evaluate(value)
    assert result.within and result.reported == Decimal("2.5")
    assert inp.evaluate(inp.validate("2025-03-01T14:05/2025-03-01T14:09")).action
    for bad in ("2025-03-01T14:05", "2025-03-01T14:09/2025-03-01T14:05", "2025-03-01T14:05Z/2025-03-01T14:09"):
        with pytest.raises(InputError):
            inp.validate(bad)


@pytest.mark.req("URS-MBR-002")
def test_registry_maps_every_type_name_to_its_class() -> None:
    assert INPUT_TYPES == {
        "decimal": DecimalInput,
        "integer": IntegerInput,
        "text": TextInput,
        "choice": ChoiceInput,
        "yes_no": YesNoInput,
        "material": MaterialInput,
        "equipment": EquipmentInput,
        "timer": TimerInput,
        "datetime": DateTimeInput,
    }


@pytest.mark.req("URS-MBR-002", "URS-DAT-005")
def test_input_definitions_serialize_with_their_type() -> None:
    assert viability().to_dict()["type"] == "decimal"
    t = parse_template(dump(minimal()), FILE)
    assert copy.deepcopy(t) == t  # later modules may copy or cache parsed templates
