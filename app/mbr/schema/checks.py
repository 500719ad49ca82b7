"""Whole-template checks run after reading: uniqueness, references, dependency graph, holds,
yields, materials and equipment, critical steps. Each problem is recorded, none raised."""

import difflib
from collections.abc import Iterable
from typing import Any

from app.common.yamlfile import Problems

from .base import Located, problem_at
from .inputs import DecimalInput, EquipmentInput, IntegerInput, MaterialInput
from .model import StepDef, TemplateDef


def run_checks(template: TemplateDef, problems: Problems) -> None:
    """Record every cross-reference problem of `template`."""
    _check_unique(template, problems)
    _check_step_references(template, problems)
    _check_cycles(template, problems)
    _check_holds(template, problems)
    _check_yields(template, problems)
    _check_materials_and_equipment(template, problems)
    _check_critical(template, problems)


def _hint(value: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(value, list(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _duplicates(problems: Problems, what: str, items: Iterable[Located], key: str) -> None:
    first: dict[Any, int] = {}
    for item in items:
        value = getattr(item, key)
        if value in first:
            problem_at(
                problems, item.line_of(key), f"duplicate {what} '{value}' (first defined on line {first[value]})"
            )
        elif value:
            first[value] = item.line_of(key)


def _check_unique(t: TemplateDef, problems: Problems) -> None:
    _duplicates(problems, "bill of materials code", t.bill_of_materials, "code")
    _duplicates(problems, "equipment type code", t.equipment_types, "code")
    _duplicates(problems, "yield stage code", t.yield_stages, "code")
    _duplicates(problems, "unit procedure code", t.unit_procedures, "code")
    for up in t.unit_procedures:
        _duplicates(problems, f"operation code in unit procedure '{up.code}'", up.operations, "code")
    _duplicates(problems, "step code", t.steps, "code")
    for step in t.steps:
        _duplicates(problems, f"input name in step '{step.code}'", step.inputs, "name")
    _duplicates(problems, "sample code", [s for step in t.steps for s in step.sampling], "sample")


def _check_step_references(t: TemplateDef, problems: Problems) -> None:
    codes = {step.code for step in t.steps}
    for step in t.steps:
        for code in step.requires or ():
            if code not in codes:
                problem_at(
                    problems,
                    step.line_of("requires"),
                    f"step '{step.code}': requires unknown step '{code}'{_hint(code, codes)}",
                )
        for hold in step.hold:
            if hold.after not in codes:
                problem_at(
                    problems,
                    hold.line_of("after"),
                    f"step '{step.code}' hold: after unknown step '{hold.after}'{_hint(hold.after, codes)}",
                )


def _find_cycles(graph: dict[str, tuple[str, ...]]) -> list[list[str]]:
    """Return each dependency cycle once, as a path that ends where it starts."""
    done: set[str] = set()
    cycles: list[list[str]] = []
    for root in graph:
        path: list[str] = []
        stack: list[tuple[str, int]] = [(root, 0)]
        while stack:
            node, child = stack.pop()
            if child == 0:
                if node in done:
                    continue
                path.append(node)
            edges = [e for e in graph[node] if e in graph]
            if child < len(edges):
                stack.append((node, child + 1))
                nxt = edges[child]
                if nxt in path:
                    cycles.append(path[path.index(nxt) :] + [nxt])
                elif nxt not in done:
                    stack.append((nxt, 0))
            else:
                path.pop()
                done.add(node)
    return cycles


def _order(t: TemplateDef) -> dict[str, int]:
    """Map each step code to its template position (a duplicate keeps its first one)."""
    order: dict[str, int] = {}
    for index, step in enumerate(t.steps):
        order.setdefault(step.code, index)
    return order


def _check_cycles(t: TemplateDef, problems: Problems) -> None:
    order = _order(t)
    graph = {code: t.step(code).prerequisites for code in order}
    for cycle in _find_cycles(graph):
        first = t.step(min(cycle, key=order.__getitem__))
        problem_at(
            problems,
            first.line_of("requires"),
            f"step '{first.code}': prerequisites "
            f"form a cycle ({' needs '.join(cycle)}), so none of them could ever start",
        )


def _ancestors(t: TemplateDef, step: StepDef) -> set[str]:
    seen: set[str] = set()
    todo = list(step.prerequisites)
    while todo:
        code = todo.pop()
        if code not in seen:
            seen.add(code)
            try:
                todo.extend(t.step(code).prerequisites)
            except KeyError:
                pass  # an unknown step is reported by _check_step_references
    return seen


def _check_holds(t: TemplateDef, problems: Problems) -> None:
    order = _order(t)
    for step in t.steps:
        for hold in step.hold:
            if hold.after not in order:
                continue
            where = f"step '{step.code}' hold after '{hold.after}'"
            if order[hold.after] >= order[step.code]:
                problem_at(problems, hold.line_of("after"), f"{where}: that step must come earlier in the template")
            elif hold.after not in _ancestors(t, step):
                problem_at(
                    problems,
                    hold.line_of("after"),
                    f"{where}: that step is not a prerequisite (direct or indirect), so the window cannot be measured",
                )


def _check_yields(t: TemplateDef, problems: Problems) -> None:
    for stage in t.yield_stages:
        line, ref = stage.line_of("actual_from"), stage.actual_from
        where = f"yield stage '{stage.code}': actual_from '{ref}'"
        step_code, _, name = ref.rpartition(".")
        try:
            step = t.step(step_code)
            target = step.input(name)
        except KeyError:
            problem_at(problems, line, f"{where} names no step input (write 'STEP.input')")
            continue
        if not isinstance(target, DecimalInput | IntegerInput):
            problem_at(problems, line, f"{where} must be a decimal or integer input, not {target.type}")
        elif not target.required:
            problem_at(problems, line, f"{where} must be a required input")
        elif target.unit != stage.unit:
            problem_at(problems, line, f"{where} is in {target.unit!r}, the stage in {stage.unit!r}")


def _check_materials_and_equipment(t: TemplateDef, problems: Problems) -> None:
    bom = {item.code: item for item in t.bill_of_materials}
    kinds = {kind.code for kind in t.equipment_types}
    used: set[str] = set()
    for step in t.steps:
        for item in step.inputs:
            where = f"step '{step.code}' input '{item.name}'"
            if isinstance(item, MaterialInput):
                used.add(item.bom)
                _check_material(item, bom, where, problems)
            elif isinstance(item, EquipmentInput):
                used.add(item.equipment_type)
                if item.equipment_type not in kinds:
                    problem_at(
                        problems,
                        item.line_of("equipment_type"),
                        f"{where}: unknown equipment type '{item.equipment_type}'{_hint(item.equipment_type, kinds)}",
                    )
    for record, what in [(b, "bill of materials item") for b in t.bill_of_materials] + [
        (e, "equipment type") for e in t.equipment_types
    ]:
        if record.code not in used:
            problem_at(
                problems,
                record.line,
                f"{what} '{record.code}' is used by no step input; remove it or record it where it is used",
            )


def _check_material(item: MaterialInput, bom: dict[str, Any], where: str, problems: Problems) -> None:
    if item.bom not in bom:
        problem_at(
            problems, item.line_of("bom"), f"{where}: unknown bill of materials item '{item.bom}'{_hint(item.bom, bom)}"
        )
    elif item.quantity is not None and item.quantity.unit != bom[item.bom].unit:
        problem_at(
            problems,
            item.line_of("quantity"),
            f"{where}: quantity unit "
            f"{item.quantity.unit!r} differs from the bill of materials unit "
            f"{bom[item.bom].unit!r}",
        )


def _check_critical(t: TemplateDef, problems: Problems) -> None:
    for up in t.unit_procedures:
        if up.steps and not any(step.critical for step in up.steps):
            problem_at(
                problems,
                up.line,
                f"unit procedure '{up.code}' has no critical step; "
                "mark at least one step 'critical: true' (second-person verification)",
            )
