"""The ISBT 128 product code of a master batch record: optional, checked with its line."""

from pathlib import Path

import pytest

from app.mbr.schema import DefinitionError, parse_template

pytestmark = pytest.mark.req("URS-EXE-015")

ROOT = Path(__file__).resolve().parents[2]
SHORT = ROOT / "tests/data/templates/SHORT-TEST.v1.yaml"
LINE = "isbt128_product_code: S9999V00"


def _line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if line.startswith(needle))


def test_the_test_template_declares_a_product_code():
    definition = parse_template(SHORT.read_text(), SHORT.name)
    assert definition.isbt128_product_code == "S9999V00"
    assert definition.to_dict()["isbt128_product_code"] == "S9999V00"


@pytest.mark.parametrize("name", ["XS411-DA-NPC.v1.yaml", "XS228-MN-NPC.v1.yaml"])
def test_templates_without_the_key_still_load_unchanged(name):
    """Approved versions hold their source text: a text without the key parses as before, with no code."""
    path = ROOT / "batch_templates" / name
    definition = parse_template(path.read_text(), name)
    assert definition.isbt128_product_code is None and len(definition.steps) >= 40


@pytest.mark.parametrize(("value", "message"), [
    ("E0001V00", "is not an ISBT 128 cellular therapy product code"),
    ("S9999V0", "is not an ISBT 128 cellular therapy product code"),
    ("'S9999va0'", "is not an ISBT 128 cellular therapy product code"),
    ("''", "'isbt128_product_code' must not be empty"),
    ("[S9999V00]", "'isbt128_product_code' must be text"),
])  # fmt: skip
def test_a_wrong_product_code_is_refused_at_its_line(value, message):
    text = SHORT.read_text().replace(LINE, f"isbt128_product_code: {value}")
    with pytest.raises(DefinitionError) as refused:
        parse_template(text, SHORT.name)
    [problem] = refused.value.problems
    assert problem.startswith(f"{SHORT.name}:{_line_of(text, 'isbt128_product_code:')}: template: ")
    assert message in problem


def test_a_misspelt_key_is_refused_with_a_hint():
    text = SHORT.read_text().replace(LINE, "isbt_product_code: S9999V00")
    with pytest.raises(DefinitionError) as refused:
        parse_template(text, SHORT.name)
    assert "did you mean 'isbt128_product_code'?" in refused.value.problems[0]
