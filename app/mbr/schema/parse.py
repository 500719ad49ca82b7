"""Read a master batch record YAML file into the frozen model, collecting every problem."""

import os
import re
import string
from typing import Any

from app.common.isbt128 import product_code_problem
from app.common.yamlfile import Problems, load_marked

from .base import NAME_RE, STEP_CODE_RE, Reader, describe, problem_at
from .checks import run_checks
from .inputs import INPUT_TYPES, InputDef
from .model import (
    BomItem,
    EquipmentType,
    HoldWindow,
    OperationDef,
    SamplingDef,
    StepDef,
    TemplateDef,
    UnitProcedureDef,
    YieldStage,
)

TOP_KEYS = (
    "code",
    "version",
    "title",
    "product",
    "description",
    "lot_number_pattern",
    "isbt128_product_code",
    "bill_of_materials",
    "equipment_types",
    "yield_stages",
    "unit_procedures",
)
TOP_REQUIRED = ("code", "version", "title", "product", "description", "yield_stages", "unit_procedures")
STEP_KEYS = ("code", "title", "instruction", "critical", "requires", "inputs", "hold", "sampling")
SAMPLE_PURPOSES = ("QC", "IPC")
LOT_FIELDS = {"yyyy": "", "yy": "", "mm": "", "seq": r"(0[1-9][0-9]*d)?"}
LOT_LITERAL_RE = re.compile(r"[A-Za-z0-9._/-]*\Z")
FILENAME_RE = re.compile(r"(?P<code>.+)\.v(?P<version>[0-9]+)\.ya?ml\Z")


def parse_template(text: str, filename: str) -> TemplateDef:
    """Parse and validate one template file; raise DefinitionError listing every problem."""
    problems = Problems(filename)
    data = load_marked(text, filename)
    template = _read_template(data, problems)
    run_checks(template, problems)
    _check_filename(template, filename, problems)
    # Sorted by line so QA can fix a file top to bottom; sort is stable within a line.
    problems.items.sort(key=lambda item: _line_number(item, filename))
    problems.raise_if_any()
    return template


def _line_number(item: str, filename: str) -> int:
    head = item[len(filename) + 1 :].split(":", 1)[0]
    return int(head) if head.isdigit() else 0


def _read_template(data: Any, problems: Problems) -> TemplateDef:
    r = Reader(data, problems, "template", TOP_KEYS, TOP_REQUIRED, line=1)
    pattern = r.text("lot_number_pattern")
    if pattern is not None:
        _check_lot_pattern(r, pattern)
    product_code = r.text("isbt128_product_code")
    if product_code is not None and (problem := product_code_problem(product_code)):
        r.problem(f"isbt128_product_code: {problem}", "isbt128_product_code")
    return TemplateDef(
        line=r.line,
        lines=r.lines,
        code=r.code("code", example="XS411-DA-NPC") or "",
        version=r.integer("version", minimum=1) or 0,
        title=r.text("title") or "",
        product=r.text("product") or "",
        description=r.text("description") or "",
        lot_number_pattern=pattern,
        isbt128_product_code=product_code,
        bill_of_materials=_read_list(r, "bill_of_materials", _read_bom),
        equipment_types=_read_list(r, "equipment_types", _read_equipment_type),
        yield_stages=_read_list(r, "yield_stages", _read_yield_stage, non_empty=True),
        unit_procedures=_read_unit_procedures(r),
    )


def _read_list(r: Reader, key: str, read: Any, non_empty: bool = False) -> tuple[Any, ...]:
    """Read each item of list `key` with `read(node, line, problems)`, dropping invalid ones."""
    parsed = (read(node, line, r.problems) for node, line in r.items(key, non_empty))
    return tuple(item for item in parsed if item is not None)


def _build(cls: Any, r: Reader, key: str, fields: dict[str, Any], keep_none: tuple[str, ...] = ()) -> Any:
    """Build the record when its code is valid, so references to it still resolve.

    Other invalid fields are already reported (and the template refused at the end), so they
    become empty placeholders rather than dropping the whole record.
    """
    if fields[key] is None:
        return None
    values = {k: "" if v is None and k not in keep_none else v for k, v in fields.items()}
    return cls(line=r.line, lines=r.lines, **values)


def _label(node: Any, key: str = "code") -> str:
    value = node.get(key) if hasattr(node, "get") else None
    return f" '{value}'" if isinstance(value, str) else ""


def _read_bom(node: Any, line: int, problems: Problems) -> BomItem | None:
    keys = ("code", "name", "unit", "quantity_per_lot")
    r = Reader(node, problems, f"bill of materials item{_label(node)}", keys, keys[:3], line)
    fields = {
        "code": r.code("code", example="SB431542"),
        "name": r.text("name"),
        "unit": r.text("unit"),
        "quantity_per_lot": r.decimal("quantity_per_lot", True),
    }
    if fields["quantity_per_lot"] is None:
        del fields["quantity_per_lot"]
    return _build(BomItem, r, "code", fields)


def _read_equipment_type(node: Any, line: int, problems: Problems) -> EquipmentType | None:
    keys = ("code", "name")
    r = Reader(node, problems, f"equipment type{_label(node)}", keys, keys, line)
    fields = {"code": r.code("code"), "name": r.text("name")}
    return _build(EquipmentType, r, "code", fields)


def _read_yield_stage(node: Any, line: int, problems: Problems) -> YieldStage | None:
    keys = ("code", "name", "theoretical", "unit", "min_percent", "max_percent", "actual_from")
    r = Reader(node, problems, f"yield stage{_label(node)}", keys, keys, line)
    fields = {
        "code": r.code("code", example="HARVEST"),
        "name": r.text("name"),
        "theoretical": r.decimal("theoretical", positive=True),
        "unit": r.text("unit"),
        "min_percent": r.decimal("min_percent"),
        "max_percent": r.decimal("max_percent"),
        "actual_from": r.text("actual_from"),
    }
    low, high = fields["min_percent"], fields["max_percent"]
    if low is not None and high is not None and not 0 <= low <= 100 <= high:
        r.problem(f"need 0 <= min_percent <= 100 <= max_percent, not {low} and {high}", "min_percent")
    return _build(YieldStage, r, "code", fields)


def _read_unit_procedures(r: Reader) -> tuple[UnitProcedureDef, ...]:
    previous: list[str] = []  # the last valid step code, carried across operations
    result = []
    for node, line in r.items("unit_procedures", non_empty=True):
        keys = ("code", "name", "operations")
        up = Reader(node, r.problems, f"unit procedure{_label(node)}", keys, keys, line)
        code = up.code("code", example="UP1")
        operations = tuple(
            _read_operation(op_node, op_line, up, code, previous)
            for op_node, op_line in up.items("operations", non_empty=True)
        )
        result.append(
            UnitProcedureDef(
                line=up.line, lines=up.lines, code=code or "", name=up.text("name") or "", operations=operations
            )
        )
    return tuple(result)


def _read_operation(node: Any, line: int, up: Reader, up_code: str | None, previous: list[str]) -> OperationDef:
    keys = ("code", "name", "steps")
    context = f"operation{_label(node)} of unit procedure '{up_code}'"
    r = Reader(node, up.problems, context, keys, keys, line)
    code = r.code("code", example="OP1")
    steps = []
    for step_node, step_line in r.items("steps", non_empty=True):
        step = _read_step(step_node, step_line, r.problems, (up_code, code), previous)
        if step is not None:
            steps.append(step)
            previous[:] = [step.code]
    return OperationDef(line=r.line, lines=r.lines, code=code or "", name=r.text("name") or "", steps=tuple(steps))


def _read_step(
    node: Any,
    line: int,
    problems: Problems,
    parents: tuple[str | None, str | None],
    previous: list[str],
) -> StepDef | None:
    r = Reader(node, problems, f"step{_label(node)}", STEP_KEYS, STEP_KEYS[:3], line)
    code = r.code("code", STEP_CODE_RE, "UP1.OP1.S1")
    prefix = f"{parents[0]}.{parents[1]}."
    if code and None not in parents and not code.startswith(prefix):
        message = f"step code '{code}' must start with its unit procedure and operation codes"
        r.problem(f"{message}: '{prefix}<step>'", "code")
    requires = _read_requires(r) if r.has("requires") else None
    fields = {
        "code": code,
        "title": r.text("title"),
        "instruction": r.text("instruction"),
        "critical": r.flag("critical", False),
        "requires": requires,
        "inputs": tuple(_read_inputs(r, code or "?")),
        "hold": _kept(_read_hold(n, ln, r) for n, ln in r.items("hold")),
        "sampling": _kept(_read_sample(n, ln, r) for n, ln in r.items("sampling")),
    }
    fields["prerequisites"] = requires if requires is not None else tuple(previous)
    fields["unit_procedure"], fields["operation"] = parents
    # None is a meaningful value of requires (the default prerequisite), not a missing field.
    return _build(StepDef, r, "code", fields, keep_none=("requires",))


def _kept(items: Any) -> tuple[Any, ...]:
    return tuple(item for item in items if item is not None)


def _read_inputs(r: Reader, step: str) -> list[InputDef]:
    parsed = (read_input(node, line, r.problems, step) for node, line in r.items("inputs"))
    return [item for item in parsed if item is not None]


def _read_requires(r: Reader) -> tuple[str, ...]:
    codes = []
    for item, line in r.items("requires"):
        if not isinstance(item, str) or not STEP_CODE_RE.match(item):
            problem_at(r.problems, line, f"{r.context}: requires: {item!r} is not a step code")
        else:
            codes.append(item)
    return tuple(codes)


def _read_hold(node: Any, line: int, step: Reader) -> HoldWindow | None:
    before = len(step.problems.items)
    keys = ("after", "min_minutes", "max_minutes")
    r = Reader(node, step.problems, f"{step.context} hold", keys, ("after",), line)
    after = r.code("after", STEP_CODE_RE, "UP1.OP1.S1")
    low, high = r.integer("min_minutes", 0), r.integer("max_minutes", 0)
    if not r.has("min_minutes") and not r.has("max_minutes"):
        r.problem("needs min_minutes or max_minutes")
    if low is not None and high is not None and low > high:
        r.problem(f"min_minutes {low} is above max_minutes {high}", "min_minutes")
    if len(r.problems.items) > before:
        return None
    return HoldWindow(line=r.line, lines=r.lines, after=after, min_minutes=low, max_minutes=high)


def _read_sample(node: Any, line: int, step: Reader) -> SamplingDef | None:
    keys = ("sample", "test", "quantity", "unit", "for")
    r = Reader(node, step.problems, f"{step.context} sample{_label(node, 'sample')}", keys, keys, line)
    purpose = r.text("for")
    if purpose is not None and purpose not in SAMPLE_PURPOSES:
        r.problem(f"'for' must be QC or IPC, not {purpose!r}", "for")
    fields = {
        "sample": r.code("sample", example="STER"),
        "test": r.text("test"),
        "quantity": r.decimal("quantity", positive=True),
        "unit": r.text("unit"),
    }
    fields["purpose"] = purpose
    return _build(SamplingDef, r, "sample", fields)


def _check_lot_pattern(r: Reader, pattern: str) -> None:
    try:
        parts = list(string.Formatter().parse(pattern))
    except ValueError as exc:
        r.problem(f"lot_number_pattern: {exc}", "lot_number_pattern")
        return
    names = [name for _, name, _, _ in parts if name is not None]
    for literal, name, spec, conversion in parts:
        if not LOT_LITERAL_RE.match(literal):
            r.problem(
                f"lot_number_pattern: {literal!r} may only hold letters, digits and . _ / -", "lot_number_pattern"
            )
        if name is not None and (
            name not in LOT_FIELDS or conversion or not re.fullmatch(LOT_FIELDS[name], spec or "")
        ):
            allowed = "{yyyy}, {yy}, {mm}, {seq} or {seq:04d}"
            r.problem(f"lot_number_pattern: unknown field {{{name}}}; allowed: {allowed}", "lot_number_pattern")
    if "seq" not in names:
        r.problem("lot_number_pattern: must contain {seq} so lot numbers are unique", "lot_number_pattern")


def _check_filename(template: TemplateDef, filename: str, problems: Problems) -> None:
    match = FILENAME_RE.match(os.path.basename(filename))
    if match and template.code and template.version:
        expected = f"{template.code}.v{template.version}"
        if (match["code"], int(match["version"])) != (template.code, template.version):
            problem_at(
                problems,
                template.line_of("code"),
                f"template: file name should be {expected}.yaml for code {template.code} version {template.version}",
            )


COMMON_KEYS = ("name", "label", "type", "required", "help")


def read_input(node: Any, line: int, problems: Problems, step: str) -> InputDef | None:
    """Read one input definition of `step`; None (problems recorded) when it is invalid."""
    name = node.get("name") if hasattr(node, "get") else None
    context = f"step '{step}' input '{name}'" if isinstance(name, str) else f"step '{step}' input"
    type_name = node.get("type") if hasattr(node, "get") else None
    cls = INPUT_TYPES.get(type_name) if isinstance(type_name, str) else None
    keys = COMMON_KEYS + (cls.KEYS if cls else ())
    before = len(problems.items)
    r = Reader(node, problems, context, keys, ("name", "label", "type") + (cls.REQUIRED if cls else ()), line)
    if cls is None and r.has("type"):
        known = ", ".join(INPUT_TYPES)
        r.problem(f"unknown input type {describe(type_name)}; known types: {known}", "type")
    common = {
        "name": r.code("name", NAME_RE, "cell_count"),
        "label": r.text("label"),
        "required": r.flag("required", True),
        "help": r.text("help"),
    }
    params = cls.params(r) if cls else {}
    if cls is None or len(problems.items) > before:
        return None
    return cls(line=r.line, lines=r.lines, **common, **params)
