"""Scenarios 4 (verify) and 5 (scale): a decade of lots on PostgreSQL, then the pages and plans.

At each scale (1x = a year, 10x = the decade; `small` uses 0.02x and 0.2x) it measures:
  - lot search (auditor portal, by lot number), the lot page, QA's review-by-exception page and
    the audit trail filtered by lot: p50/p95 over requests for lots spread over the whole range;
  - the SQL each of those pages ran, with EXPLAIN (ANALYZE, BUFFERS) of each statement and
    whether any big table was read by a sequential scan;
  - `verify_chain` (one process) and `verify_chain_parallel` (one process per CPU, as `flask audit
    verify` runs it) against the floor (bare psycopg + the same canonical JSON + SHA-256), each in
    its own process for its peak memory, and the whole `flask audit verify` command.

Run: python -m benchmarks.scale --out FILE [--size small|full]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import event, text

from benchmarks.common import (
    PASSWORD,
    ROOT,
    VENV_BIN,
    database,
    latency_stats,
    log,
    make_app,
    ratio,
    write_json,
)

FACTORS = {"full": (1.0, 10.0), "small": (0.02, 0.2), "tiny": (0.002, 0.005)}
CREWS = 10
TEMPLATE = "XS411-DA-NPC"
BIG_TABLES = ("audit_events", "entries", "step_records", "signatures", "lots")
PAGES = ("lot_search", "lot_view", "review_by_exception", "audit_trail_filter", "lot_search_first_page")
REQUESTS_PER_PAGE = 60
VERIFY_TIMEOUT = 1500
#: The whole `flask audit verify` (chain + replay of every record + signatures) runs at scales up
#: to this many events; above it only the chain part (verify_chain, same code) unless
#: BENCH_FULL_VERIFY=1: at 10x the full command took longer than the rest of the run together.
FULL_CLI_MAX_EVENTS = 1_000_000


# --- seeding through the services ---------------------------------------------------------


def _entry_values(definition: Any, values: dict[tuple[str, str], Any], session: Any) -> dict[tuple[str, str], dict]:
    """Each input's Entry columns exactly as build_entry computes them from what was typed."""
    from app.inventory.models import Equipment, MaterialLot
    from app.mbr.schema import EquipmentInput, MaterialInput

    materials = {m.lot_code: m.id for m in session.query(MaterialLot)}
    equipment = {q.code: q.id for q in session.query(Equipment)}
    out = {}
    for step in definition.steps:
        for item in step.inputs:
            raw = values[(step.code, item.name)]
            value = item.validate(raw.value)
            result = item.evaluate(value)
            typed = value if isinstance(value, Decimal) else Decimal(value) if type(value) is int else None
            row = {
                "input_name": item.name,
                "value_text": (raw.value or "").strip(),
                "value_decimal": str(typed) if typed is not None else None,
                "unit": getattr(item, "unit", None),
                "quantity": None,
                "material_lot_id": None,
                "equipment_id": None,
                "limit_status": str(result.level),
                "limit_message": result.reason or None,
            }
            if isinstance(item, MaterialInput):
                if item.quantity is not None:
                    row["quantity"] = str(item.validate_quantity(raw.quantity))
                    row["unit"] = item.quantity.unit
                row["material_lot_id"] = materials[row["value_text"]]
            elif isinstance(item, EquipmentInput):
                row["equipment_id"] = equipment[row["value_text"]]
            out[(step.code, item.name)] = row
    return out


def seed(app: Any) -> dict[str, Any]:
    """People, XS411 template and specification Effective, stock; entry values for the generator."""
    from app.batches.simulate import Autopilot
    from app.common.db import unit_of_work
    from app.extensions import db
    from benchmarks import seed as s

    with app.app_context(), unit_of_work(db.session) as session, s.account_hashing("cheap"):
        qa = s.make_user(session, "bench.qa", "Bench QA", ["qa"])
        s.make_user(session, "bench.viewer", "Bench Viewer", ["qa"])
        supervisor = s.make_user(session, "bench.sup", "Bench Supervisor", ["supervisor"])
        version = s.effective_template(session, qa, TEMPLATE)
        s.effective_spec(session, qa, TEMPLATE)
        crews = []
        for i in range(CREWS):
            performer = s.make_user(session, f"op.{i}", f"Operator {i}", ["operator"])
            verifier = s.make_user(session, f"ver.{i}", f"Verifier {i}", ["operator"])
            for user in (performer, verifier):
                s.train(session, supervisor, user, TEMPLATE)
            crews.append((performer.id, verifier.id))
        definition = version.definition
        pilot = Autopilot(session, supervisor, supervisor, PASSWORD, lambda _t: None)
        values = {(st.code, i.name): pilot.value_for(definition, st, i) for st in definition.steps for i in st.inputs}
        session.flush()
        entries = _entry_values(definition, values, session)
        return {"definition": definition, "entries": entries, "crews": crews, "supervisor": supervisor.id}


# --- measuring the pages ---------------------------------------------------------------------


class Capture:
    """The SQL statements (with parameters) a request ran."""

    def __init__(self, engine: Any) -> None:
        self.statements: list[tuple[str, Any]] = []
        self.on = False
        event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any, _many: bool) -> None:
        if self.on:
            self.statements.append((statement, parameters))


def _page_paths(lot: tuple[int, str]) -> dict[str, str]:
    lot_id, number = lot
    return {
        "lot_search": f"/documents/?number={number}",
        "lot_view": f"/lots/{lot_id}",
        "review_by_exception": f"/release/lots/{lot_id}",
        "audit_trail_filter": f"/audit/?lot_id={lot_id}",
        # Not one lot: the portal as an auditor opens it (newest 25 lots, no filter).
        "lot_search_first_page": "/documents/",
    }


def _sample_lots(app: Any, count: int) -> list[tuple[int, str]]:
    from app.extensions import db

    with app.app_context():
        rows = db.session.execute(text("SELECT id, lot_number FROM lots ORDER BY id")).all()
        db.session.remove()
    rng = random.Random(411)  # noqa: S311
    return [tuple(r) for r in rng.sample(rows, min(count, len(rows)))]


def measure_pages(app: Any, lots: list[tuple[int, str]]) -> dict[str, Any]:
    client = app.test_client()
    reply = client.post("/login", data={"username": "bench.viewer", "password": PASSWORD})
    if reply.status_code != 302:
        raise RuntimeError(f"viewer login failed: {reply.status_code}")
    times: dict[str, list[float]] = {p: [] for p in PAGES}
    statuses: dict[str, set[int]] = {p: set() for p in PAGES}
    for path in _page_paths(lots[0]).values():  # warm up templates and caches
        client.get(path)
    for round_ in range(2):
        for lot in lots[: REQUESTS_PER_PAGE // 2 if round_ else REQUESTS_PER_PAGE - REQUESTS_PER_PAGE // 2]:
            for page, path in _page_paths(lot).items():
                start = time.perf_counter()
                response = client.get(path)
                times[page].append(time.perf_counter() - start)
                statuses[page].add(response.status_code)
                if page == "lot_search" and lot[1] not in response.get_data(as_text=True):
                    statuses[page].add(-1)  # the lot was not found: a wrong search
    return {p: {**latency_stats(times[p]), "statuses": sorted(statuses[p])} for p in PAGES}


def _explain(connection: Any, statement: str, parameters: Any) -> dict[str, Any]:
    plan = connection.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).scalars().all()
    text_plan = "\n".join(plan)
    seq = sorted({m for m in re.findall(r"Seq Scan on (\w+)", text_plan) if m in BIG_TABLES})
    indexes = sorted(
        set(re.findall(r"(?:Index Scan|Index Only Scan|Bitmap Index Scan) (?:Backward )?(?:using|on) (\w+)", text_plan))
    )
    ms = re.search(r"Execution Time: ([\d.]+) ms", text_plan)
    return {
        "execution_ms": float(ms.group(1)) if ms else None,
        "seq_scans_on_big_tables": seq,
        "indexes": indexes,
        "plan": text_plan,
    }


def explain_pages(app: Any, lot: tuple[int, str]) -> dict[str, Any]:
    """Every SQL statement of each page for one lot, explained (reads only; writes are skipped)."""
    from app.extensions import db

    client = app.test_client()
    client.post("/login", data={"username": "bench.viewer", "password": PASSWORD})
    with app.app_context():
        capture = Capture(db.engine)
    out = {}
    for page, path in _page_paths(lot).items():
        capture.statements.clear()
        capture.on = True
        client.get(path)
        capture.on = False
        explained = []
        with app.app_context():
            with db.engine.connect() as connection:
                for statement, parameters in capture.statements:
                    if not statement.lstrip().upper().startswith("SELECT"):
                        continue
                    explained.append({"sql": statement, **_explain(connection, statement, parameters)})
                connection.rollback()
        explained.sort(key=lambda e: -(e["execution_ms"] or 0))
        out[page] = {
            "statements": len(capture.statements),
            "total_sql_ms": round(sum(e["execution_ms"] or 0 for e in explained), 2),
            "seq_scans_on_big_tables": sorted({t for e in explained for t in e["seq_scans_on_big_tables"]}),
            "indexes_used": sorted({i for e in explained for i in e["indexes"]}),
            "slowest": explained[:3],
        }
    return out


# --- verify -------------------------------------------------------------------------------


def _probe(mode: str, url: str, *args: str) -> dict[str, Any]:
    done = subprocess.run(  # noqa: S603 - fixed arguments, bench only
        [sys.executable, "-m", "benchmarks.verify_probe", mode, url, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=VERIFY_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        return {"error": done.stderr[-1500:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def cli_verify(url: str) -> dict[str, Any]:
    """The whole `flask audit verify` (chain, record replay, signatures); peak RSS of the child process."""
    script = (
        "import os, resource, subprocess, sys, time, json\n"
        "t = time.perf_counter()\n"
        "p = subprocess.run([sys.argv[1], 'audit', 'verify'], capture_output=True, text=True)\n"
        "r = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(json.dumps({'exit_code': p.returncode, 'seconds': round(time.perf_counter() - t, 1),"
        " 'peak_rss_mib': round(r.ru_maxrss / 1024, 1), 'output': (p.stdout + p.stderr).strip().splitlines()[-3:]}))\n"
    )
    env = {"CELLBATCH_DATABASE_URL": url, "FLASK_APP": "app:create_app", "CELLBATCH_ENV": "development"}
    done = subprocess.run(  # noqa: S603 - fixed arguments, bench only
        [sys.executable, "-c", script, str(VENV_BIN / "flask")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=VERIFY_TIMEOUT,
        env={**os.environ, **env},
        check=False,
    )
    if done.returncode != 0:
        return {"error": done.stderr[-1500:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_verify(url: str, full_cli: bool = True) -> dict[str, Any]:
    """The floor before and after the verifiers (the faster one counts: the first reader of a freshly
    loaded database also pays for PostgreSQL writing it back): verify_chain in one process, then
    verify_chain_parallel with one process per CPU; then the whole command (its default jobs)."""
    from app.audit.parallel import default_jobs

    jobs = default_jobs()
    log("verify: floor")
    floors = [_probe("floor", url)]
    log("verify: verify_chain (one process)")
    chain = _probe("chain", url)
    log(f"verify: verify_chain_parallel ({jobs} processes)")
    parallel = _probe("parallel", url, str(jobs))
    log("verify: floor again")
    floors.append(_probe("floor", url))
    floor = min((f for f in floors if "seconds" in f), key=lambda f: f["seconds"], default=floors[0])
    result = {
        "floor": floor,
        "floor_runs_events_per_s": [f.get("events_per_s") for f in floors],
        "chain": chain,
        "chain_vs_floor": ratio(chain.get("events_per_s"), floor.get("events_per_s")),
        "parallel": parallel,
        "parallel_vs_floor": ratio(parallel.get("events_per_s"), floor.get("events_per_s")),
        "parallel_vs_chain": ratio(parallel.get("events_per_s"), chain.get("events_per_s")),
    }
    if full_cli:
        log(f"verify: flask audit verify (chain + records + signatures, --jobs {jobs})")
        result["flask_audit_verify"] = {**cli_verify(url), "jobs": jobs}
    return result


# --- the scenario ---------------------------------------------------------------------------


def counts(app: Any) -> dict[str, int]:
    from app.extensions import db

    with app.app_context():
        out = {t: db.session.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in BIG_TABLES}  # noqa: S608
        out["database_mib"] = round(
            db.session.execute(text("SELECT pg_database_size(current_database())")).scalar() / 2**20
        )
        db.session.remove()
    return out


def run(size: str, keep: bool = False) -> dict[str, Any]:
    from benchmarks import generate

    result: dict[str, Any] = {"factors": list(FACTORS[size]), "decade_lots": generate.DECADE_LOTS, "scales": {}}
    with database("cellbatch_bench_scale", keep=keep) as url:
        app = make_app(url, cheap_hashing=True, csrf=False)
        log("scale: seeding people and definitions through the services")
        seeded = seed(app)
        dsn = url.replace("postgresql+psycopg://", "postgresql://")
        import psycopg

        with psycopg.connect(dsn) as connection:
            model = generate.read_model(
                connection, seeded["entries"], seeded["definition"], seeded["crews"], seeded["supervisor"]
            )
        done = 0
        for factor in FACTORS[size]:
            target = round(generate.DECADE_LOTS * factor / 10)
            log(f"scale {factor}x: generating lots {done}..{target - 1}")
            generation = generate.append_lots(dsn, model, done, target - done)
            done = target
            scale: dict[str, Any] = {"generation": generation, "counts": counts(app)}
            lots = _sample_lots(app, REQUESTS_PER_PAGE - REQUESTS_PER_PAGE // 2)
            log(f"scale {factor}x: pages")
            scale["pages"] = measure_pages(app, lots)
            scale["plans"] = explain_pages(app, lots[0])
            full_cli = (
                scale["counts"]["audit_events"] <= FULL_CLI_MAX_EVENTS or os.environ.get("BENCH_FULL_VERIFY") == "1"
            )
            scale["verify"] = measure_verify(url, full_cli)
            result["scales"][f"{factor:g}x"] = scale
        with app.app_context():
            from app.extensions import db

            db.engine.dispose()
    first, last = (result["scales"][f"{f:g}x"] for f in FACTORS[size])
    result["growth"] = {p: ratio(last["pages"][p].get("p95_ms"), first["pages"][p].get("p95_ms")) for p in PAGES}
    result["growth_p50"] = {p: ratio(last["pages"][p].get("p50_ms"), first["pages"][p].get("p50_ms")) for p in PAGES}
    return result


def measure_existing(name: str) -> dict[str, Any]:
    """Pages and plans on a kept scale database as it is (before/after a fix, without regenerating)."""
    from benchmarks.common import pg_url

    app = make_app(pg_url(name), migrate=False, cheap_hashing=True, csrf=False)
    lots = _sample_lots(app, REQUESTS_PER_PAGE - REQUESTS_PER_PAGE // 2)
    result = {"counts": counts(app), "pages": measure_pages(app, lots), "plans": explain_pages(app, lots[0])}
    with app.app_context():
        from app.extensions import db

        db.engine.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--size", default="full", choices=tuple(FACTORS))
    parser.add_argument("--keep", action="store_true", help="keep the bench database (for EXPLAIN by hand)")
    parser.add_argument("--measure-existing", metavar="DB", help="only measure the pages of a kept database")
    args = parser.parse_args()
    if args.measure_existing:
        write_json(Path(args.out), measure_existing(args.measure_existing))
        return
    write_json(Path(args.out), run(args.size, args.keep))


if __name__ == "__main__":
    main()
