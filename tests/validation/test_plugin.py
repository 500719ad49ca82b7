"""The traceability plugin, run by a real pytest on a tiny suite with its own register (issue #12)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from app.validation.register import RegisterError, parse_register

pytestmark = pytest.mark.req("URS-VAL-001")
ROOT = Path(__file__).resolve().parents[2]
REGISTER = """\
format: 1
sources:
  "21 CFR 11.10(e)": {title: Audit trails, matrix: true}
requirements:
  - {id: URS-AUD-901, statement: "Proven.", sources: ["21 CFR 11.10(e)"], risk: high}
  - {id: URS-AUD-902, statement: "Low and untested.", sources: ["21 CFR 11.10(e)"], risk: low}
  - {id: URS-AUD-903, statement: "High and untested.", sources: ["21 CFR 11.10(e)"], risk: high}
"""
CASES = '''\
import pytest

pytestmark = pytest.mark.req("URS-AUD-901")


def test_passes():
    pass


@pytest.mark.req("URS-AUD-902")
@pytest.mark.parametrize("n", [1, 2])
def test_fails_once(n):
    assert n == 1


@pytest.mark.skip(reason="not today")
def test_skipped():
    pass


def test_unrelated_name():
    pass
'''


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    (tmp_path / "register.yaml").write_text(REGISTER)
    (tmp_path / "pytest.ini").write_text("[pytest]\ntestpaths = cases\naddopts = --strict-markers "
                                         "-p tests.validation_plugin --req-register register.yaml\n")
    (tmp_path / "cases").mkdir()
    (tmp_path / "cases" / "test_cases.py").write_text(CASES)
    return tmp_path


def run(suite: Path, *args: str, trace: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CELLBATCH_TRACE", "PYTEST_ADDOPTS")}
    if trace is not None:
        env["CELLBATCH_TRACE"] = trace
    env["PYTHONPATH"] = str(ROOT)
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args]
    return subprocess.run(command, cwd=suite, env=env, capture_output=True, text=True, timeout=120)  # noqa: S603


def test_an_unknown_requirement_id_stops_the_run_naming_test_and_id(suite):
    (suite / "cases" / "test_typo.py").write_text(
        'import pytest\n\n@pytest.mark.req("URS-AUD-999")\ndef test_typo():\n    pass\n')
    for args in ([], ["-k", "passes"], ["cases/test_typo.py"]):
        done = run(suite, *args)
        assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
        assert "cases/test_typo.py::test_typo: unknown requirement 'URS-AUD-999'" in done.stderr


def test_a_req_mark_without_ids_is_refused(suite):
    (suite / "cases" / "test_empty.py").write_text("import pytest\n\n@pytest.mark.req\ndef test_empty():\n    pass\n")
    done = run(suite)
    assert done.returncode == pytest.ExitCode.USAGE_ERROR
    assert "takes requirement IDs as strings" in done.stderr


def test_a_whole_run_fails_while_a_high_risk_requirement_has_no_test(suite):
    (suite / "cases" / "test_cases.py").write_text(CASES.replace("assert n == 1", "pass"))
    done = run(suite)
    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.stdout
    assert "FAILED: 1 high-risk requirement(s) without any test: URS-AUD-903" in done.stdout
    assert "URS-AUD-902" not in done.stdout.split("FAILED:")[1]  # low risk: reported, not enforced
    assert "4 passed, 1 skipped" in done.stdout


def test_a_subset_run_is_not_enforced_unless_asked(suite):
    (suite / "cases" / "test_cases.py").write_text(CASES.replace("assert n == 1", "pass"))
    assert run(suite, "cases/test_cases.py::test_passes").returncode == 0
    assert run(suite, "-k", "passes").returncode == 0
    assert "enforcement off (subset run)" in run(suite, "-k", "passes").stdout
    assert run(suite, "-k", "passes", trace="1").returncode == pytest.ExitCode.TESTS_FAILED
    assert run(suite, trace="0").returncode == 0
    # Covering the requirement lifts the failure of the whole run.
    (suite / "cases" / "test_more.py").write_text(
        'import pytest\n\n@pytest.mark.req("URS-AUD-903")\ndef test_now_proven():\n    pass\n')
    assert run(suite).returncode == 0


def test_collect_only_checks_traceability_quickly(suite):
    done = run(suite, "--collect-only", "-q")
    assert done.returncode == pytest.ExitCode.TESTS_FAILED
    assert "URS-AUD-903" in done.stdout


def test_the_trace_names_each_test_its_requirements_and_outcome(suite):
    done = run(suite, "--trace-json=out/trace.json")
    assert done.returncode == pytest.ExitCode.TESTS_FAILED
    trace = json.loads((suite / "out" / "trace.json").read_text())
    tests = {t["nodeid"].removeprefix("cases/test_cases.py::"): t for t in trace["tests"]}
    assert {k: (v["requirements"], v["outcome"]) for k, v in tests.items()} == {
        "test_passes": (["URS-AUD-901"], "passed"),
        "test_fails_once[1]": (["URS-AUD-901", "URS-AUD-902"], "passed"),
        "test_fails_once[2]": (["URS-AUD-901", "URS-AUD-902"], "failed"),
        "test_skipped": (["URS-AUD-901"], "skipped"),
        "test_unrelated_name": (["URS-AUD-901"], "passed"),
    }
    assert "assert 2 == 1" in tests["test_fails_once[2]"]["message"]
    assert tests["test_skipped"]["message"] == "not today"
    assert trace["database"]["engine"] in ("sqlite", "postgresql") and trace["database"]["version"]
    assert trace["pytest"]["whole_suite"] is True and trace["pytest"]["enforced"] is True
    assert trace["uncovered"] == ["URS-AUD-903"]
    assert trace["problems"] == ["1 high-risk requirement(s) without any test: URS-AUD-903"]


def test_the_register_refuses_malformed_entries_listing_every_problem():
    text = REGISTER + textwrap.indent(textwrap.dedent("""\
      - {id: URS-AUD-901, statement: "Twice.", sources: ["21 CFR 11.10(e)"], risk: high}
      - {id: URS-XYZ-001, statement: "Unknown area.", sources: ["21 CFR 11.10(e)"], risk: high}
      - {id: URS-AUD-904, statement: "", sources: ["21 CFR 11.10(e)"], risk: severe}
      - {id: URS-AUD-905, statement: "Unknown clause.", sources: ["21 CFR 11.11"], risk: low}
      - {id: AUD-1, statement: "Bad id.", sources: ["21 CFR 11.10(e)"], risk: low}
    """), "  ")
    with pytest.raises(RegisterError) as refused:
        parse_register(text)
    message = str(refused.value)
    for expected in ("URS-AUD-901: duplicate ID", "URS-XYZ-001: unknown area 'XYZ'",
                     "URS-AUD-904: needs a one-sentence", "risk 'severe' must be one of",
                     "URS-AUD-905: unknown source '21 CFR 11.11'",
                     "id 'AUD-1' must look like URS-AUD-003"):  # fmt: skip
        assert expected in message
