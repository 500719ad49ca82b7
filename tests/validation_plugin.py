"""Requirement traceability for pytest (issue #12): tests name the requirements they prove.

    @pytest.mark.req("URS-AUD-003")            # on a test (several IDs allowed)
    pytestmark = pytest.mark.req("URS-ACC-002")  # on a whole module (or a class)

What this plugin enforces, against the register docs/requirements.yaml (--req-register PATH):
- an ID that is not in the register (or a `req` mark without IDs) stops the run at collection,
  naming the test and the ID; a subset run (-k, a path) is checked too;
- a high-risk requirement that no collected test names fails the run, at the end, but only
  when the whole suite was collected. The rule: CELLBATCH_TRACE=1 (set by `make test` and
  `make validation`) always enforces; CELLBATCH_TRACE=0 never; unset, it enforces when pytest
  collected its testpaths (no path arguments, or exactly `tests`) and deselected nothing
  (no -k, -m, --deselect, --lf). `pytest --collect-only -q` is a quick traceability check.
- `--trace-json PATH` writes every collected test with its requirement IDs and outcome
  (passed, failed, error, skipped with the reason, xfailed, xpassed; "not run" under
  --collect-only), plus the database engine and its version: the input of the qualification
  report (python -m app.validation report). Write it as `--trace-json=PATH`: pytest takes an
  existing PATH given as a separate argument for a test path when it looks for the rootdir.
"""

from __future__ import annotations

import json
import os
import platform
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app.validation.register import Register, RegisterError, load_register

MARKER = "req"
TRACE_FORMAT = 1
ENV_SWITCH = "CELLBATCH_TRACE"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cellbatch-trace", "requirement traceability (docs/requirements.yaml)")
    group.addoption("--trace-json", metavar="PATH", default=None,
                    help="write each test's requirement IDs and outcome to PATH (JSON)")  # fmt: skip
    group.addoption("--req-register", metavar="PATH", default=None,
                    help="the requirement register (default: docs/requirements.yaml under the rootdir)")  # fmt: skip


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}(*ids): the requirements (docs/requirements.yaml) this test proves")
    config.pluginmanager.register(Traceability(config), "cellbatch-traceability")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _database() -> dict[str, Any]:
    """The engine the suite ran on (conftest: CELLBATCH_TEST_DATABASE_URL, else SQLite)."""
    url = os.environ.get("CELLBATCH_TEST_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        return {"engine": "sqlite", "version": sqlite3.sqlite_version, "url": "sqlite (temporary file)"}
    import sqlalchemy as sa  # only here: the plugin stays light for --collect-only

    engine = sa.create_engine(url)
    shown = engine.url.render_as_string(hide_password=True)
    try:
        with engine.connect() as connection:
            version = connection.exec_driver_sql("SHOW server_version").scalar()
    except Exception as exc:  # noqa: BLE001 - the trace says why instead of losing the run
        version = f"unknown ({type(exc).__name__}: {exc})"
    finally:
        engine.dispose()
    return {"engine": "postgresql", "version": str(version), "url": shown}


class _Outcome:
    """The phases of one test folded into one outcome."""

    def __init__(self) -> None:
        self.outcome = "not run"
        self.message: str | None = None
        self.duration = 0.0

    def add(self, report: pytest.TestReport) -> None:
        self.duration += report.duration
        if report.failed:
            if self.outcome not in ("failed", "error"):
                self.outcome = "failed" if report.when == "call" else "error"
                self.message = _message(report)
            return
        if report.skipped:
            if hasattr(report, "wasxfail"):
                self.outcome, self.message = "xfailed", str(report.wasxfail) or None
            elif self.outcome == "not run":
                self.outcome, self.message = "skipped", _skip_reason(report)
            return
        if report.when == "call" and self.outcome == "not run":
            self.outcome = "xpassed" if hasattr(report, "wasxfail") else "passed"


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _message(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else report.longreprtext
    return text if len(text) <= 2000 else text[:2000] + " …"


class Traceability:
    """Per-run state: the register, each item's IDs, the outcomes and the enforcement decision."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.register: Register | None = None
        self.items: dict[str, tuple[str, ...]] = {}
        self.markers: dict[str, list[str]] = {}
        self.outcomes: dict[str, _Outcome] = {}
        self.deselected = 0
        self.started = _now()
        self.problems: list[str] = []

    # -- collection -----------------------------------------------------------------------------
    def _load(self) -> Register:
        if self.register is None:
            option = self.config.getoption("--req-register")
            path = Path(option) if option else self.config.rootpath / "docs" / "requirements.yaml"
            try:
                self.register = load_register(path)
            except (OSError, RegisterError) as exc:
                raise pytest.UsageError(f"requirement register: {exc}") from exc
        return self.register

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Check every collected test's IDs before -k / -m deselect any of them."""
        register = self._load()
        bad: list[str] = []
        for item in items:
            ids: list[str] = []
            for mark in item.iter_markers(name=MARKER):
                if not mark.args or mark.kwargs or not all(isinstance(a, str) for a in mark.args):
                    bad.append(f"{item.nodeid}: @pytest.mark.{MARKER} takes requirement IDs as strings, got {mark}")
                    continue
                ids += mark.args
            unknown = sorted({i for i in ids if i not in register.requirements})
            bad += [f"{item.nodeid}: unknown requirement {i!r} (not in {register.path})" for i in unknown]
            withdrawn = sorted({i for i in ids if i in register.requirements and register.requirements[i].withdrawn})
            bad += [f"{item.nodeid}: requirement {i!r} is withdrawn" for i in withdrawn]
            self.items[item.nodeid] = tuple(sorted(set(ids)))
            self.markers[item.nodeid] = sorted({m.name for m in item.iter_markers()} - {MARKER, "parametrize"})
        if bad:
            shown = "\n  ".join(bad[:50]) + (f"\n  … and {len(bad) - 50} more" if len(bad) > 50 else "")
            raise pytest.UsageError(f"requirement traceability: {len(bad)} bad requirement reference(s):\n  {shown}")

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.deselected += len(items)
        for item in items:
            self.items.pop(item.nodeid, None)

    # -- running --------------------------------------------------------------------------------
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.outcomes.setdefault(report.nodeid, _Outcome()).add(report)

    # -- the end --------------------------------------------------------------------------------
    def whole_suite(self) -> bool:
        """Were the testpaths collected with nothing deselected?"""
        config = self.config
        testpaths = {(config.rootpath / p).resolve() for p in config.getini("testpaths")} or {config.rootpath}
        given = {(config.invocation_params.dir / a.split("::")[0]).resolve() for a in config.args}
        whole = config.args_source == pytest.Config.ArgsSource.TESTPATHS or given == testpaths
        partial = self.deselected or config.getoption("lf", False) or any("::" in a for a in config.args)
        return whole and not partial

    def enforced(self) -> bool:
        switch = os.environ.get(ENV_SWITCH, "").strip()
        if switch in ("1", "0"):
            return switch == "1"
        return self.whole_suite()

    def enforcement(self) -> str:
        if self.enforced():
            return "on"
        return f"off ({ENV_SWITCH}=0)" if os.environ.get(ENV_SWITCH, "").strip() == "0" else "off (subset run)"

    def uncovered(self) -> list[str]:
        register = self._load()
        named = {i for ids in self.items.values() for i in ids}
        return [r.id for r in register.active if r.id not in named]

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.register is None:  # collection never finished (usage error, interrupted)
            return
        high = [i for i in self.uncovered() if self.register.requirements[i].risk == "high"]
        if high and self.enforced() and exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            self.problems.append(f"{len(high)} high-risk requirement(s) without any test: {', '.join(high)}")
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        path = self.config.getoption("--trace-json")
        if path:
            self.write(Path(path), int(session.exitstatus))

    def pytest_terminal_summary(self, terminalreporter) -> None:  # type: ignore[no-untyped-def]
        if self.register is None:
            return
        uncovered = self.uncovered()
        tests = len(self.items)
        traced = sum(1 for ids in self.items.values() if ids)
        line = (f"{len(self.register.active)} requirements, {len(self.register.active) - len(uncovered)} with tests; "
                f"{traced} of {tests} tests name requirements; "
                f"enforcement {self.enforcement()}")  # fmt: skip
        terminalreporter.write_sep("-", "requirement traceability")
        terminalreporter.write_line(line)
        for problem in self.problems:
            terminalreporter.write_line(f"FAILED: {problem}", red=True, bold=True)

    def write(self, path: Path, exit_status: int) -> None:
        register = self._load()
        tests = [{
            "nodeid": nodeid, "requirements": list(ids), "markers": self.markers.get(nodeid, []),
            "outcome": (outcome := self.outcomes.get(nodeid, _Outcome())).outcome,
            "message": outcome.message, "duration": round(outcome.duration, 3),
        } for nodeid, ids in self.items.items()]  # fmt: skip
        data = {
            "kind": "cellbatch-trace", "format": TRACE_FORMAT, "started_at": self.started, "finished_at": _now(),
            "register": {"path": str(register.path), "sha256": register.sha256},
            "database": _database(), "python": platform.python_version(),
            "pytest": {"version": pytest.__version__, "args": list(self.config.invocation_params.args),
                       "exit_status": exit_status, "whole_suite": self.whole_suite(), "enforced": self.enforced(),
                       "collect_only": bool(self.config.getoption("collectonly")), "deselected": self.deselected},
            "uncovered": self.uncovered(), "problems": self.problems, "tests": tests,
        }  # fmt: skip
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
