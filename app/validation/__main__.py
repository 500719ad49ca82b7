"""python -m app.validation run | report | compliance | verify (see app/validation/__init__.py)."""

from __future__ import annotations

import getpass
import socket
import sys
from pathlib import Path

import click

from app.validation.compliance import COMPLIANCE_PATH, collect_trace, compliance_markdown, tests_by_requirement
from app.validation.register import REGISTER_PATH, RegisterError, load_register
from app.validation.report import Trace, build_report, verify_report, write_report
from app.validation.run import ROOT, run_all

OUT = ROOT / "validation"


def _load_register(path: Path):  # type: ignore[no-untyped-def]
    try:
        return load_register(path)
    except (OSError, RegisterError) as exc:
        raise click.ClickException(str(exc)) from exc


def _generated_by() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def make_report(trace_paths: list[Path], missing: dict[str, str], out_dir: Path, register_path: Path) -> str:
    """Build, render and write the report; print where and its SHA-256; return the verdict."""
    from app import create_app

    register = _load_register(register_path)
    traces = []
    for path in trace_paths:
        if path.exists():
            traces.append(Trace.load(path))
        else:
            engine = path.stem.removeprefix("trace-")
            missing[engine] = f"the run wrote no trace (pytest stopped early: see pytest-{engine}.log)"
    if not traces:
        raise click.ClickException("no trace to report on: " + "; ".join(f"{k}: {v}" for k, v in missing.items()))
    tests = tests_by_requirement(traces[0].data)
    current = COMPLIANCE_PATH.read_text(encoding="utf-8") if COMPLIANCE_PATH.exists() else ""
    application = create_app()
    with application.app_context():
        data = build_report(register, traces, application.config, missing_engines=missing,
                            compliance_current=current == compliance_markdown(register, tests),
                            generated_by=_generated_by(), site=application.config["SITE_NAME"])  # fmt: skip
        pdf = write_report(data, out_dir)
    click.echo(f"Verdict: {data['verdict']} ({len(data['deviations'])} deviation(s))")
    click.echo(f"Wrote {out_dir / 'report.json'} and {out_dir / 'report.pdf'}")
    click.echo(f"report.pdf SHA-256 {pdf['sha256']} ({pdf['size']} bytes, PAdES signed: {pdf['pades_signed']})")
    for problem in pdf["pdfa_problems"]:
        click.echo(f"PDF/A PROBLEM: {problem}", err=True)
    return str(data["verdict"])


@click.group()
def cli() -> None:
    """cellbatch validation pack: requirement traceability and the qualification report."""


@cli.command("run")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=OUT, show_default=True)
@click.option("--no-postgres", is_flag=True, help="Run on SQLite only (the report lists PostgreSQL as not run).")
@click.argument("pytest_args", nargs=-1)
def run_command(out_dir: Path, no_postgres: bool, pytest_args: tuple[str, ...]) -> None:
    """Run the whole suite on both engines with traces, then write the report (make validation)."""
    traces, missing = run_all(out_dir, not no_postgres, list(pytest_args))
    verdict = make_report(traces, missing, out_dir, REGISTER_PATH)
    sys.exit(1 if verdict == "FAIL" else 0)


@cli.command("report")
@click.option("--trace", "traces", type=click.Path(dir_okay=False, path_type=Path), multiple=True, required=True,
              help="A trace written by pytest --trace-json (one per engine).")  # fmt: skip
@click.option("--missing", multiple=True, metavar="ENGINE=REASON", help="An engine that was not run, and why.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=OUT, show_default=True)
@click.option("--register", "register_path", type=click.Path(dir_okay=False, path_type=Path), default=REGISTER_PATH)
def report_command(traces: tuple[Path, ...], missing: tuple[str, ...], out_dir: Path, register_path: Path) -> None:
    """Write report.json and report.pdf from existing traces."""
    reasons = dict(item.split("=", 1) if "=" in item else (item, "not run") for item in missing)
    make_report(list(traces), reasons, out_dir, register_path)


@cli.command("compliance")
@click.option("--trace", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Use this trace instead of collecting the suite.")  # fmt: skip
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=COMPLIANCE_PATH, show_default=True)
@click.option("--check", is_flag=True, help="Only say whether the file is current; exit 1 when it is not.")
def compliance_command(trace: Path | None, out: Path, check: bool) -> None:
    """Generate docs/compliance.md from the register and the tests' req marks."""
    import json

    register = _load_register(REGISTER_PATH)
    data = json.loads(trace.read_text(encoding="utf-8")) if trace else collect_trace()
    text = compliance_markdown(register, tests_by_requirement(data))
    current = out.read_text(encoding="utf-8") if out.exists() else ""
    if check:
        click.echo(f"{out} is {'current' if text == current else 'STALE: run make compliance'}")
        sys.exit(0 if text == current else 1)
    out.write_text(text, encoding="utf-8")
    click.echo(f"Wrote {out} ({'unchanged' if text == current else 'changed'})")


@cli.command("verify")
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=OUT)
def verify_command(out_dir: Path) -> None:
    """Check report.pdf against report.json: SHA-256, embedded data, PDF/A properties."""
    problems = verify_report(out_dir)
    for problem in problems:
        click.echo(f"PROBLEM: {problem}", err=True)
    if problems:
        sys.exit(1)
    click.echo(f"OK: {out_dir / 'report.pdf'} matches report.json (SHA-256, embedded data, PDF/A checks).")


if __name__ == "__main__":
    cli()
