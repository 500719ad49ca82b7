"""The qualification report: deviations first, verdict, identity, PDF/A with its data, SHA-256."""

from __future__ import annotations

import io
import json

import pytest
from pypdf import PdfReader

from app.validation.compliance import compliance_markdown
from app.validation.compliance import tests_by_requirement as named_tests
from app.validation.register import parse_register
from app.validation.report import Trace, build_report, verify_report, write_report

pytestmark = pytest.mark.req("URS-VAL-002")
REGISTER = """\
format: 1
sources:
  "21 CFR 11.10(e)": {title: Audit trails, matrix: true, procedural: Keep the clock synchronized.}
  "EU GMP Annex 11 §13": {title: Incident management, matrix: true, procedural: Report incidents.}
requirements:
  - {id: URS-AUD-001, statement: "Changes are audited.", sources: ["21 CFR 11.10(e)"], risk: high}
  - {id: URS-AUD-002, statement: "Refusals are audited.", sources: ["21 CFR 11.10(e)"], risk: medium,
     procedural: "Review refusals weekly."}
  - {id: URS-SIG-001, statement: "Not yet tested.", sources: ["21 CFR 11.10(e)"], risk: low}
"""


def trace(tmp_path, engine, outcomes):
    tests = [{"nodeid": nodeid, "requirements": reqs, "markers": [], "outcome": outcome,
              "message": {"failed": "assert 1 == 2", "skipped": "needs PostgreSQL"}.get(outcome), "duration": 0.1}
             for nodeid, reqs, outcome in outcomes]  # fmt: skip
    data = {"kind": "cellbatch-trace", "format": 1, "started_at": "2026-11-25T10:00:00Z",
            "finished_at": "2026-11-25T10:05:00Z", "register": {"path": "r", "sha256": REG.sha256},
            "database": {"engine": engine, "version": "16.4" if engine == "postgresql" else "3.40.1", "url": engine},
            "python": "3.11.2", "pytest": {"version": "9", "args": [], "exit_status": 1, "whole_suite": True,
                                           "enforced": True, "collect_only": False, "deselected": 0},
            "uncovered": [], "problems": [], "tests": tests}  # fmt: skip
    path = tmp_path / f"trace-{engine}.json"
    path.write_text(json.dumps(data))
    return Trace.load(path)


REG = parse_register(REGISTER)


@pytest.fixture
def report(app, tmp_path):
    sqlite = trace(tmp_path, "sqlite", [
        ("tests/a.py::test_audited[1]", ["URS-AUD-001"], "passed"),
        ("tests/a.py::test_audited[2]", ["URS-AUD-001"], "passed"),
        ("tests/a.py::test_race", ["URS-AUD-001"], "skipped"),
        ("tests/b.py::test_refusal", ["URS-AUD-002"], "failed"),
        ("tests/c.py::test_helper", [], "passed"),
    ])  # fmt: skip
    postgres = trace(tmp_path, "postgresql", [
        ("tests/a.py::test_audited[1]", ["URS-AUD-001"], "passed"),
        ("tests/a.py::test_audited[2]", ["URS-AUD-001"], "passed"),
        ("tests/a.py::test_race", ["URS-AUD-001"], "passed"),
        ("tests/b.py::test_refusal", ["URS-AUD-002"], "passed"),
        ("tests/c.py::test_helper", [], "passed"),
    ])  # fmt: skip
    with app.app_context():
        yield build_report(REG, [sqlite, postgres], app.config, generated_by="tester@host", site="Test site")


def test_deviations_come_first_most_serious_first(report):
    kinds = [(d["severity"], d["kind"], d["engine"], d["subject"]) for d in report["deviations"]]
    assert kinds[0] == ("critical", "test failed", "sqlite", "tests/b.py::test_refusal")
    assert ("minor", "requirement no test (low risk)", "", "URS-SIG-001") in kinds
    skipped = next(d for d in report["deviations"] if d["kind"] == "test skipped")
    assert (skipped["subject"], skipped["detail"], skipped["other_engines"]) == (
        "tests/a.py::test_race", "needs PostgreSQL", {"postgresql": "passed"})
    assert report["verdict"] == "FAIL"


def test_each_requirement_has_its_sources_tests_and_result_per_engine(report):
    rows = {r["id"]: r for r in report["requirements"]}
    assert rows["URS-AUD-001"]["status"] == "pass"  # the skip on SQLite ran on PostgreSQL
    assert rows["URS-AUD-001"]["tests"] == [
        {"id": "tests/a.py::test_audited", "result": "pass", "engines": {"sqlite": "passed", "postgresql": "passed"}},
        {"id": "tests/a.py::test_race", "result": "pass", "engines": {"sqlite": "skipped", "postgresql": "passed"}},
    ]
    assert rows["URS-AUD-002"]["status"] == "fail" and rows["URS-AUD-002"]["procedural"] == "Review refusals weekly."
    assert rows["URS-SIG-001"]["status"] == "no test"
    assert report["summary"]["by_risk"]["high"] == {"pass": 1}
    assert report["summary"]["tests_without_requirements"] == ["tests/c.py::test_helper"]


def test_the_system_identity_names_code_dependencies_platform_and_configuration(report):
    system = report["system"]
    assert len(system["git"]["commit"] or "") == 40
    assert len(system["lock_file"]["sha256"]) == 64
    assert system["python"]["version"] and system["sqlite_library"]
    assert {"flask", "sqlalchemy", "weasyprint", "pytest"} <= set(system["packages"])
    assert system["machine"]["hostname"] and system["migration_head"]
    assert system["configuration"]["LOCKOUT_THRESHOLD"] == 5
    assert not any("SECRET" in key for key in system["configuration"])
    runs = [(r["engine"], r["database_version"]) for r in report["runs"]]
    assert runs == [("sqlite", "3.40.1"), ("postgresql", "16.4")]


def test_the_pdf_is_pdfa_carries_its_data_and_is_verified_by_sha256(app, report, tmp_path):
    out = tmp_path / "validation"
    with app.app_context():
        pdf = write_report(report, out)
    assert pdf["pdfa_problems"] == []
    content = (out / "report.pdf").read_bytes()
    assert (out / "report.pdf.sha256").read_text() == f"{pdf['sha256']}  report.pdf\n"
    reader = PdfReader(io.BytesIO(content))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert text.index("Verdict: FAIL") < text.index("1. Deviations") < text.index("tests/b.py::test_refusal")
    assert text.index("tests/b.py::test_refusal") < text.index("2. Summary") < text.index("3. System identity")
    assert json.loads(reader.attachments["cellbatch-data.json"][0])["verdict"] == "FAIL"
    assert verify_report(out) == []
    tampered = bytearray(content)
    tampered[len(tampered) // 2] ^= 1
    (out / "report.pdf").write_bytes(bytes(tampered))
    assert any("SHA-256" in problem for problem in verify_report(out))


def test_the_compliance_matrix_has_a_row_per_clause_with_procedural_part_and_tests(report):
    tests = named_tests({"tests": [{"nodeid": f"tests/a.py::test_audited[{n}]", "requirements": ["URS-AUD-001"]}
                                   for n in (1, 2)]})
    text = compliance_markdown(REG, tests)
    rows = [line for line in text.splitlines() if line.startswith("| **")]
    assert [row.split("**")[1] for row in rows] == ["11.10(e)", "§13"]
    assert "Keep the clock synchronized.<br>URS-AUD-002: Review refusals weekly." in rows[0]
    assert "[URS-AUD-001](#urs-aud-001): `tests/a.py::test_audited`" in rows[0]
    assert "[URS-SIG-001](#urs-sig-001): **no test yet**" in rows[0]
    assert "| **§13** Incident management | — | Report incidents. | — (procedural only) |" in rows[1]
