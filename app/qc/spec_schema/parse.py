"""Read one specification file into a `SpecDef`: header, list of tests, each test, file name."""

from __future__ import annotations

import dataclasses
import re
from pathlib import PurePath
from types import SimpleNamespace
from typing import Any

from app.common.yamlfile import MarkedDict, MarkedList, Problems, load_marked

from .acceptance import parse_numeric, parse_qualitative
from .fields import check_keys, read_bool, read_code, read_integer, read_text
from .model import MATERIALS, QUALITATIVE, TEST_TYPES, SpecDef, TestDef

SPEC_KEYS = ("code", "product", "version", "title", "material", "tests")

_FILENAME = re.compile(r"(?P<product>.+)\.v(?P<version>\d+)\.ya?ml")


def parse_spec(text: str, filename: str) -> SpecDef:
    """Parse and validate one specification file; raise DefinitionError with all problems."""
    problems = Problems(filename)
    doc = load_marked(text, filename)
    if not isinstance(doc, MarkedDict):
        where = doc if isinstance(doc, MarkedList) else SimpleNamespace(line=1)
        problems.add(where, f"a specification is a mapping with keys {', '.join(SPEC_KEYS)}")
        problems.raise_if_any()
    check_keys(problems, doc, "specification", SPEC_KEYS, SPEC_KEYS)
    header = _parse_header(problems, doc)
    tests = _parse_tests(problems, doc)
    _check_filename(problems, doc, filename, header)
    problems.raise_if_any()
    return SpecDef(**header, tests=tests)


def _parse_header(problems: Problems, doc: MarkedDict) -> dict[str, Any]:
    """Validate code, product, version, title and material."""
    what = "specification"
    version = read_integer(problems, doc, "version", what) if "version" in doc else None
    if version == 0:
        problems.add(doc, f"{what}: 'version' starts at 1", "version")
    material = read_text(problems, doc, "material", what)
    if material is not None and material not in MATERIALS:
        problems.add(doc, f"{what}: material {material!r} must be one of {', '.join(MATERIALS)}", "material")
    code, product = read_code(problems, doc, "code", what), read_code(problems, doc, "product", what)
    if code and product and not code.startswith(product + "-"):
        problems.add(
            doc,
            f"{what}: code {code!r} must start with the product code {product!r} and a dash, e.g. {product}-DP",
            "code",
        )
    return {
        "code": code,
        "product": product,
        "version": version,
        "material": material,
        "title": read_text(problems, doc, "title", what),
    }


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
            problems.add(item, f"test {code}: duplicate test code (first at line {seen[code]})", "code")
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
        "code": read_code(problems, item, "code", what),
        "type": kind,
        "name": read_text(problems, item, "name", what),
        "method": read_text(problems, item, "method", what),
        "acceptance_text": read_text(problems, item, "acceptance_text", what) or "",
    }
    if "required_for_release" in item:
        fields["required_for_release"] = read_bool(problems, item, "required_for_release", what)
    if kind == QUALITATIVE:
        fields |= parse_qualitative(problems, item, what)
    else:
        fields |= parse_numeric(problems, item, what, kind)
    if len(problems.items) > before:
        return None
    test = TestDef(**fields)
    return test if test.acceptance_text else dataclasses.replace(test, acceptance_text=test.limit_text())


def _check_filename(problems: Problems, doc: MarkedDict, filename: str, header: dict[str, Any]) -> None:
    """Check that "PRODUCT.vN.yaml" agrees with the product and version inside it."""
    match = _FILENAME.fullmatch(PurePath(filename).name)
    if match is None:
        return  # free-form names (tests, uploads) are not checked
    if header["product"] and match["product"] != header["product"]:
        problems.add(
            doc,
            f"specification: product {header['product']!r} does not match the file name {PurePath(filename).name!r}",
            "product",
        )
    if header["version"] is not None and int(match["version"]) != header["version"]:
        problems.add(
            doc,
            f"specification: version {header['version']} does not match the file name {PurePath(filename).name!r}",
            "version",
        )
