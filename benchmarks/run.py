"""`make bench`: run every scenario in its own process, then write latest.json and summary.md.

    python -m benchmarks [--size full|small] [--only step_entry,documents,audit,scale]

Each scenario creates and drops its own cellbatch_bench_* PostgreSQL databases. A scenario that
cannot run (a module missing, an error) is recorded as not run, with the reason; no number is
ever made up for it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

from benchmarks.common import RESULTS, ROOT, log, machine, write_json

SCENARIOS = {
    "step_entry": ("benchmarks.step_entry", ()),
    "documents": ("benchmarks.documents_bench", ("app/documents/services", "app/release/services.py")),
    "audit": ("benchmarks.audit_append", ()),
    "scale": ("benchmarks.scale", ("app/release/services.py", "app/documents/services")),
}
TIMEOUT_S = 3600


def _git() -> dict[str, Any]:
    def out(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()  # noqa: S603, S607 - fixed arguments, bench only

    return {
        "commit": out("rev-parse", "--short", "HEAD"),
        "dirty_files": len(out("status", "--porcelain").splitlines()),
    }


def run_scenario(name: str, size: str) -> dict[str, Any]:
    module, needs = SCENARIOS[name]
    missing = [path for path in needs if not (ROOT / path).exists()]
    if missing:
        return {"status": "not run", "reason": f"{', '.join(missing)} does not exist yet"}
    out = RESULTS / f"{name}.tmp"
    out.unlink(missing_ok=True)
    start = time.perf_counter()
    log(f"scenario {name} ({size})")
    done = subprocess.run(  # noqa: S603 - fixed arguments, bench only
        [sys.executable, "-m", module, "--out", str(out), "--size", size],
        cwd=ROOT,
        timeout=TIMEOUT_S,
        check=False,
        stderr=subprocess.PIPE,
        text=True,
    )
    seconds = round(time.perf_counter() - start, 1)
    (RESULTS / f"{name}.log.tmp").write_text(done.stderr)
    if done.returncode != 0 or not out.exists():
        tail = "\n".join(line for line in done.stderr.splitlines() if "alembic" not in line)[-2500:]
        return {"status": "error", "seconds": seconds, "reason": f"exit {done.returncode}", "log_tail": tail}
    return {"status": "ok", "seconds": seconds, "load_avg_after": machine()["load_avg"], **json.loads(out.read_text())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="full", choices=("full", "small"))
    parser.add_argument("--only", default=",".join(SCENARIOS))
    args = parser.parse_args()
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = set(names) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    started = time.perf_counter()
    results: dict[str, Any] = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "size": args.size,
        "git": _git(),
        "machine_before": machine(),
        "scenarios": {},
    }
    previous = RESULTS / "latest.json"
    if previous.exists() and set(names) != set(SCENARIOS):  # a partial run keeps the other scenarios' last results
        results["scenarios"] = json.loads(previous.read_text()).get("scenarios", {})
    for name in names:
        try:
            results["scenarios"][name] = run_scenario(name, args.size)
        except subprocess.TimeoutExpired:
            results["scenarios"][name] = {"status": "error", "reason": f"timed out after {TIMEOUT_S} s"}
    results["machine_after"] = machine()
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    write_json(previous, results)
    from benchmarks.report import write_summary

    write_summary(results, RESULTS / "summary.md")
    log(f"wrote {previous.relative_to(ROOT)} and benchmarks/results/summary.md in {results['total_seconds']} s")
    failed = [n for n in names if results["scenarios"][n]["status"] == "error"]
    if failed:
        log(f"scenarios with errors: {', '.join(failed)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
