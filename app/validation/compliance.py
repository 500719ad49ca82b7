"""docs/compliance.md: one row per clause of 21 CFR Part 11 and EU GMP Annex 11, generated from
the register and the tests' `req` marks. Deterministic (no dates), so it changes only when the
register or the marks change; `make compliance` regenerates it, the report says when it is stale."""

from __future__ import annotations

import json
import os
import subprocess  # noqa: S404 - runs this project's own pytest, no shell
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from app.validation.register import Register, Requirement

ROOT = Path(__file__).resolve().parents[2]
COMPLIANCE_PATH = ROOT / "docs" / "compliance.md"
SHOWN_PER_REQUIREMENT = 3
FRAMEWORKS = (("21 CFR Part 11", "21 CFR 11."), ("EU GMP Annex 11 (§4–§17)", "EU GMP Annex 11 "))


def tests_by_requirement(trace: dict[str, Any]) -> dict[str, list[str]]:
    """Requirement ID -> the test functions (parameters folded) that name it, sorted."""
    found: dict[str, set[str]] = defaultdict(set)
    for test in trace["tests"]:
        for rid in test["requirements"]:
            found[rid].add(test["nodeid"].split("[", 1)[0])
    return {rid: sorted(ids) for rid, ids in found.items()}


def collect_trace(root: Path = ROOT) -> dict[str, Any]:
    """Collect the suite (no test runs) and return its trace."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "collect.json"
        env = {**os.environ, "CELLBATCH_TRACE": "0"}
        command = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                   f"--trace-json={path}"]  # fmt: skip
        done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)  # noqa: S603
        if done.returncode != 0 or not path.exists():
            output = done.stdout[-3000:] + done.stderr[-3000:]
            raise RuntimeError(f"collecting the suite failed ({done.returncode}):\n{output}")
        return json.loads(path.read_text(encoding="utf-8"))


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _anchor(rid: str) -> str:
    return rid.lower()


def _does(requirements: list[Requirement]) -> str:
    return "<br>".join(f"**{r.id}** ({r.risk}): {_cell(r.statement)}" for r in requirements) or "—"


def _procedural(register: Register, clause: str, requirements: list[Requirement]) -> str:
    parts = [_cell(register.sources[clause].procedural or "")] if register.sources[clause].procedural else []
    parts += [f"{r.id}: {_cell(r.procedural)}" for r in requirements if r.procedural]
    return "<br>".join(parts) or "—"


def _tests(requirements: list[Requirement], tests: dict[str, list[str]]) -> str:
    lines = []
    for r in requirements:
        ids = tests.get(r.id, [])
        if not ids:
            lines.append(f"[{r.id}](#{_anchor(r.id)}): **no test yet**")
            continue
        shown = ", ".join(f"`{t}`" for t in ids[:SHOWN_PER_REQUIREMENT])
        hidden = len(ids) - SHOWN_PER_REQUIREMENT
        more = f" and [{hidden} more](#{_anchor(r.id)})" if hidden > 0 else ""
        lines.append(f"[{r.id}](#{_anchor(r.id)}): {shown}{more}")
    return "<br>".join(lines) or "— (procedural only)"


def _matrix(register: Register, tests: dict[str, list[str]], title: str, prefix: str) -> list[str]:
    out = [f"## {title}", "",
           "| Clause | What cellbatch does | What remains procedural (site SOPs) | Tests that prove it |",
           "|---|---|---|---|"]  # fmt: skip
    for key, source in register.sources.items():
        if not (source.matrix and key.startswith(prefix)):
            continue
        requirements = register.requirements_for(key)
        clause = key.removeprefix("21 CFR ").removeprefix("EU GMP Annex 11 ")
        out.append(f"| **{clause}** {_cell(source.title)} | {_does(requirements)} | "
                   f"{_procedural(register, key, requirements)} | {_tests(requirements, tests)} |")  # fmt: skip
    return [*out, ""]


def _other_sources(register: Register) -> list[str]:
    out = ["## Other sources", "", "| Source | Requirements |", "|---|---|"]
    for key, source in register.sources.items():
        if source.matrix:
            continue
        ids = [f"[{r.id}](#{_anchor(r.id)})" for r in register.requirements_for(key)]
        out.append(f"| **{key}** {_cell(source.title)} | {', '.join(ids) or '—'} |")
    return [*out, ""]


def _per_requirement(register: Register, tests: dict[str, list[str]]) -> list[str]:
    out = ["## Tests per requirement", ""]
    for r in register.active:
        out += [f"### {r.id}", "", f"{_cell(r.statement)} *Risk {r.risk}; {'; '.join(r.sources)}.*", ""]
        out += [f"- `{t}`" for t in tests.get(r.id, [])] or ["- **no test yet**"]
        out.append("")
    return out


def compliance_markdown(register: Register, tests: dict[str, list[str]]) -> str:
    """The whole matrix as Markdown."""
    covered = sum(1 for r in register.active if tests.get(r.id))
    head = [
        "# Compliance matrix: 21 CFR Part 11 and EU GMP Annex 11", "",
        "Generated from the requirement register [requirements.yaml](requirements.yaml) and the tests'",
        "`@pytest.mark.req` marks by `python -m app.validation compliance` (`make compliance`). Do not edit",
        f"by hand. Register SHA-256 `{register.sha256}`.", "",
        "One row per clause: what cellbatch does (the requirements that answer it, with their GAMP 5 risk),",
        "what remains procedural (what the site's SOPs must add), and the tests that prove it. Test results",
        "are in the qualification report (`make validation` → `validation/report.pdf`), not here.",
        f"{len(register.active)} requirements, {covered} named by at least one test.", "",
    ]  # fmt: skip
    body = [line for title, prefix in FRAMEWORKS for line in _matrix(register, tests, title, prefix)]
    return "\n".join([*head, *body, *_other_sources(register), *_per_requirement(register, tests)]).rstrip() + "\n"
