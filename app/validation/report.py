"""The qualification report: traces of one or two runs + the register + the system identity
-> validation/report.json and validation/report.pdf (PDF/A-3b, same renderer as lot records).

Decision (documents table): a validation report is about the system, not a lot, and is made
from throwaway test databases; the `documents` table requires a lot (lot_id NOT NULL), so the
report is not registered there. It is rendered with the document pipeline's PDF/A-3b settings,
its data embedded as the same `cellbatch-data.json` attachment, PAdES-signed when the site's
key is configured, checked with the pipeline's PDF/A checks, and its SHA-256 is written to
report.json and report.pdf.sha256 (`python -m app.validation verify` re-checks all of it).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

from app.validation.identity import system_identity
from app.validation.register import Register

PASSED = ("passed", "xfailed")
BAD = ("failed", "error", "xpassed")
REPORT_FORMAT = 1
TITLE = "Qualification report"
TEMPLATE = "validation/report.html"
#: Deviation rank -> severity: a failed test first, then gaps in high-risk coverage or runs, then the rest.
SEVERITIES = ("critical", "major", "minor", "note")


@dataclass(frozen=True)
class Trace:
    """One pytest run's trace (tests/validation_plugin.py --trace-json)."""

    path: Path
    data: dict[str, Any]

    @property
    def engine(self) -> str:
        return str(self.data["database"]["engine"])

    @classmethod
    def load(cls, path: Path) -> Trace:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if data.get("kind") != "cellbatch-trace":
            raise ValueError(f"{path} is not a cellbatch trace (pytest --trace-json)")
        return cls(Path(path), data)


def base_id(nodeid: str) -> str:
    """A test without its parameters: one row per test function in the report."""
    return nodeid.split("[", 1)[0]


def _fold(outcomes: list[str]) -> str:
    """Several parameter sets of one test on one engine -> one outcome (worst first)."""
    for outcome in ("error", "failed", "xpassed", "skipped", "not run"):
        if outcome in outcomes:
            return outcome
    return "passed"


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _tests(traces: list[Trace]) -> dict[str, dict[str, Any]]:
    """Per test function: its requirement IDs and, per engine, the folded outcome and counts."""
    found: dict[str, dict[str, Any]] = {}
    for trace in traces:
        grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for test in trace.data["tests"]:
            grouped[base_id(test["nodeid"])].append(test)
        for test_id, rows in grouped.items():
            entry = found.setdefault(test_id, {"id": test_id, "requirements": set(), "engines": {}})
            entry["requirements"] |= {r for row in rows for r in row["requirements"]}
            outcomes = [row["outcome"] for row in rows]
            entry["engines"][trace.engine] = {"outcome": _fold(outcomes), "cases": len(rows),
                                              "passed": sum(o in PASSED for o in outcomes)}  # fmt: skip
    for entry in found.values():
        entry["requirements"] = sorted(entry["requirements"])
        engines = [e["outcome"] for e in entry["engines"].values()]
        entry["result"] = ("fail" if any(o in BAD for o in engines) else
                           "pass" if any(o == "passed" for o in engines) else "not run")  # fmt: skip
    return found


def _requirement_status(tests: list[dict[str, Any]]) -> str:
    if not tests:
        return "no test"
    results = {t["result"] for t in tests}
    if "fail" in results:
        return "fail"
    return "pass" if results == {"pass"} else "incomplete"


def _row(rank: int, kind: str, subject: str, detail: str, engine: str = "", requirements: list[str] | None = None,
         other_engines: dict[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    return {"rank": rank, "kind": kind, "engine": engine, "subject": subject, "detail": detail,
            "requirements": requirements or [], "other_engines": other_engines or {}}  # fmt: skip


def _run_deviations(register: Register, trace: Trace, tests: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Each test of one run that did not pass, and whatever makes the run itself doubtful."""
    engine, rows = trace.engine, []
    for test in trace.data["tests"]:
        if test["outcome"] in PASSED:
            continue
        other = {e: v["outcome"] for e, v in tests[base_id(test["nodeid"])]["engines"].items() if e != engine}
        rows.append(_row(0 if test["outcome"] in BAD else 3, f"test {test['outcome']}", test["nodeid"],
                         test["message"] or "", engine, test["requirements"], other))  # fmt: skip
    run = trace.data["pytest"]
    if run["exit_status"] not in (0, 1):
        rows.append(_row(0, "run incomplete", trace.path.name, f"pytest exit status {run['exit_status']}", engine))
    if not run["whole_suite"]:
        rows.append(_row(1, "partial run", trace.path.name, "not the whole suite: " + " ".join(run["args"]), engine))
    if trace.data["register"]["sha256"] != register.sha256:
        rows.append(_row(1, "register changed", "docs/requirements.yaml",
                         "the run used another version of the register than this report", engine))  # fmt: skip
    return rows


def _deviations(register: Register, traces: list[Trace], tests: dict[str, dict[str, Any]],
                statuses: dict[str, str], missing_engines: dict[str, str], identity: dict[str, Any],
                compliance_current: bool | None) -> list[dict[str, Any]]:  # fmt: skip
    """Everything that is not a clean pass, most serious first."""
    rows = [row for trace in traces for row in _run_deviations(register, trace, tests)]
    for requirement in register.active:
        status = statuses[requirement.id]
        if status in ("no test", "incomplete"):
            detail = ("no test names this requirement" if status == "no test"
                      else "no test of this requirement passed on any engine")  # fmt: skip
            rows.append(_row(1 if requirement.risk == "high" else 2, f"requirement {status} ({requirement.risk} risk)",
                             requirement.id, detail, requirements=[requirement.id]))  # fmt: skip
    rows += [_row(1, "engine not run", engine, reason, engine) for engine, reason in missing_engines.items()]
    git = identity["git"]
    if git["modified_paths"]:
        rows.append(_row(2, "working tree modified", git["commit"] or "",
                         f"{git['modified_paths']} path(s) differ from the commit, e.g. "
                         + ", ".join(git["modified_sample"][:5])))  # fmt: skip
    if compliance_current is False:
        rows.append(_row(2, "compliance matrix stale", "docs/compliance.md",
                         "differs from what the register and tests generate: python -m app.validation compliance"))
    rows.sort(key=lambda r: (r["rank"], r["kind"], r["subject"], r["engine"]))
    return rows


def _run_summary(trace: Trace) -> dict[str, Any]:
    data = trace.data
    counts = Counter(t["outcome"] for t in data["tests"])
    return {"engine": trace.engine, "database_version": data["database"]["version"],
            "database": data["database"]["url"], "started_at": data["started_at"], "finished_at": data["finished_at"],
            "exit_status": data["pytest"]["exit_status"], "whole_suite": data["pytest"]["whole_suite"],
            "enforced": data["pytest"]["enforced"], "pytest": data["pytest"]["version"], "python": data["python"],
            "tests": len(data["tests"]), "outcomes": dict(sorted(counts.items())), "trace": trace.path.name,
            "problems": data.get("problems", [])}  # fmt: skip


def _verdict(deviations: list[dict[str, Any]], statuses: dict[str, str], register: Register) -> str:
    failed = any(d["rank"] == 0 for d in deviations)
    high_gap = any(statuses[r.id] != "pass" for r in register.active if r.risk == "high")
    if failed or high_gap:
        return "FAIL"
    return "PASS WITH DEVIATIONS" if deviations else "PASS"


def build_report(
    register: Register, traces: list[Trace], config: Any, *, missing_engines: dict[str, str] | None = None,
    compliance_current: bool | None = None, generated_by: str = "", site: str = "",
) -> dict[str, Any]:  # fmt: skip
    """The report's data: everything the PDF prints and report.json holds (JSON-safe, no floats)."""
    if not traces:
        raise ValueError("a report needs the trace of at least one run")
    missing_engines = dict(missing_engines or {})
    identity = system_identity(config)
    tests = _tests(traces)
    by_requirement: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for test in tests.values():
        for rid in test["requirements"]:
            by_requirement[rid].append(test)
    statuses = {r.id: _requirement_status(by_requirement[r.id]) for r in register.active}
    deviations = _deviations(register, traces, tests, statuses, missing_engines, identity, compliance_current)
    engines = [t.engine for t in traces]
    requirements = [{
        "id": r.id, "area": r.area, "statement": r.statement, "risk": r.risk, "sources": list(r.sources),
        "procedural": r.procedural, "status": statuses[r.id],
        "tests": [{"id": t["id"], "result": t["result"],
                   "engines": {e: t["engines"][e]["outcome"] for e in engines if e in t["engines"]}}
                  for t in sorted(by_requirement[r.id], key=lambda t: t["id"])],
    } for r in register.active]  # fmt: skip
    by_status = Counter(statuses.values())
    by_risk = {risk: dict(Counter(statuses[r.id] for r in register.active if r.risk == risk))
               for risk in ("high", "medium", "low")}  # fmt: skip
    return {
        "document": {"kind": "validation_report", "title": TITLE, "id": str(uuid4()), "format": REPORT_FORMAT,
                     "generated_at": _utc(datetime.now(UTC)), "generated_by": generated_by, "site": site},
        "verdict": _verdict(deviations, statuses, register),
        "summary": {"requirements": len(register.active), "by_status": dict(sorted(by_status.items())),
                    "by_risk": by_risk, "tests": len(tests),
                    "tests_without_requirements": sorted(t["id"] for t in tests.values() if not t["requirements"]),
                    "deviations": len(deviations)},
        "runs": [_run_summary(t) for t in traces], "missing_engines": missing_engines,
        "system": identity, "register": {"path": "docs/requirements.yaml", "sha256": register.sha256},
        "deviations": [{k: v for k, v in d.items() if k != "rank"} | {"severity": SEVERITIES[d["rank"]]}
                       for d in deviations],
        "requirements": requirements,
        "areas": _areas(register),
    }  # fmt: skip


def _areas(register: Register) -> list[dict[str, str]]:
    from app.validation.register import AREAS

    used = {r.area for r in register.active}
    return [{"code": code, "name": name} for code, name in AREAS.items() if code in used]


# -- rendering ---------------------------------------------------------------------------------


def render_html(data: dict[str, Any]) -> str:
    """The report's HTML, from app/validation/templates (documents.pdf.pdfa adds the documents'
    print.css when it renders the PDF)."""
    from flask import current_app
    from jinja2 import ChoiceLoader, FileSystemLoader

    from app.documents.services.pdf import css_string

    env = current_app.jinja_env.overlay(loader=ChoiceLoader([FileSystemLoader(Path(__file__).parent / "templates"),
                                                             current_app.jinja_env.loader]))  # fmt: skip
    return env.get_template(TEMPLATE).render(d=data, css_string=css_string)


def render_pdf(data: dict[str, Any]) -> tuple[bytes, bool]:
    """PDF/A-3b with the data attached as cellbatch-data.json, signed when the site key is set."""
    from app.documents.services.pdf import pdfa
    from app.documents.services.signing import sign_if_configured

    pdf = pdfa(render_html(data), data, f"{TITLE}: the data printed in this file (JSON)")
    commit = (data["system"]["git"]["commit"] or "unknown")[:12]
    return sign_if_configured(pdf, reason=f"{TITLE} of cellbatch {commit}")


def write_report(data: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    """Render and write report.pdf, report.pdf.sha256 and report.json; return the PDF's facts."""
    from app.common.canonical import sha256_hex
    from app.documents.services.pdfa import pdfa_problems

    out_dir.mkdir(parents=True, exist_ok=True)
    content, signed = render_pdf(data)
    problems = pdfa_problems(content)
    digest = sha256_hex(content)
    pdf = {"file": "report.pdf", "sha256": digest, "size": len(content), "pades_signed": signed,
           "pdfa_problems": problems}  # fmt: skip
    (out_dir / "report.pdf").write_bytes(content)
    (out_dir / "report.pdf.sha256").write_text(f"{digest}  report.pdf\n", encoding="utf-8")
    (out_dir / "report.json").write_text(json.dumps({**data, "pdf": pdf}, indent=1, ensure_ascii=False) + "\n",
                                         encoding="utf-8")  # fmt: skip
    return pdf


def verify_report(out_dir: Path) -> list[str]:
    """Re-check a written report: SHA-256, the embedded data = report.json, the PDF/A checks."""
    import io

    from pypdf import PdfReader

    from app.common.canonical import canonical_json, sha256_hex
    from app.documents.services.pdf import ATTACHMENT_NAME
    from app.documents.services.pdfa import pdfa_problems

    content = (out_dir / "report.pdf").read_bytes()
    saved = json.loads((out_dir / "report.json").read_text(encoding="utf-8"))
    pdf = saved.pop("pdf")
    problems = []
    if sha256_hex(content) != pdf["sha256"]:
        problems.append(f"report.pdf has SHA-256 {sha256_hex(content)}, report.json says {pdf['sha256']}")
    attached = PdfReader(io.BytesIO(content)).attachments.get(ATTACHMENT_NAME, [])
    if not attached or json.loads(attached[0]) != json.loads(canonical_json(saved)):
        problems.append(f"the PDF's {ATTACHMENT_NAME} attachment differs from report.json")
    return problems + [f"PDF/A: {p}" for p in pdfa_problems(content)]
