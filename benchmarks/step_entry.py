"""Scenario 2: step entry under load (gunicorn, workers = cores, PostgreSQL), against a floor.

Each simulated operator is a pair of seeded accounts: the performer (operator + supervisor, so
it can start its own next lot) and its verifier (critical steps need a second person). It logs
in, then loops over its own lot: GET the step page -> POST the values with action=complete
(save and sign, password re-entered: the real ceremony) and, for a critical step, the
verifier's GET -> POST verify. Latencies are measured by the client, per request.

Groups: "production" (accounts and server at config.py's argon2id setting and its session memory
of the signing password: closed loop, then paced like people), "production_every_signature" (the
same with the memory switched off: argon2id at every signature, as before issue #10's fix),
"cheap" (the test suite's argon2id, a diagnostic of what the application costs apart from the
password check). Each group has its own server configured like its accounts: a server
rehashes, at login, a hash made with other parameters than its own. The production server also
serves a reference beside the floor: the same operators loading only their dashboard (DASHBOARD),
what every request costs before any batch rule. Last, the same operator loop
runs in this process once, to count the SQL statements of each kind of request.

Run: python -m benchmarks.step_entry --out FILE [--size small|full]
"""

from __future__ import annotations

import os
import random
import re
import statistics
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from unittest import mock

from argon2 import PasswordHasher

from benchmarks.common import PASSWORD, database, latency_stats, log, make_app, ratio, scenario_main
from benchmarks.load import Browser, InProcessBrowser, Recorder, Sample, Server, hidden_value, run_threads

TEMPLATE_CODE = "SHORT-TEST"
LEVELS = tuple(int(n) for n in os.environ.get("BENCH_LEVELS", "1,10,40").split(","))
#: Seconds per load level (the first WARMUP seconds of each are not counted).
DURATION = {"full": 25.0, "small": 8.0}
WARMUP = {"full": 4.0, "small": 2.0}
GROUPS = ("production", "cheap")
#: The servers measured: (result key, accounts' group, extra environment, operator levels). The
#: second is the production setting with argon2id at every signature instead of the session's
#: memory of the password (app/auth/password_memory.py), at 10 operators: its before/after.
RUNS = (
    ("production", "production", {}, LEVELS),
    ("production_every_signature", "production", {"CELLBATCH_SIGNING_PASSWORD_MEMORY": "0"},
     tuple(n for n in LEVELS if n == 10) or LEVELS[-1:]),
    ("cheap", "cheap", {}, LEVELS),
)  # fmt: skip
#: The paced run: each operator waits this long on average (exponential) after every response.
THINK_S = 1.0
PACED_LEVELS = (10, 40)
#: The app's cheapest signed-in page, an operator's dashboard: one GET that passes what every
#: request passes (session cookie, user load and account checks, idle timeout, access rule, CSRF
#: token, the base layout) and no batch rule. Its rate beside the floor's is what the stack
#: itself costs per request, the ceiling of any step-entry request.
DASHBOARD = "/"
#: Requests of the in-process run that counts SQL statements (about two SHORT-TEST lots).
COUNTED_REQUESTS = 40


def argon2_settings() -> dict[str, tuple[int, int, int]]:
    """(time cost, memory KiB, parallelism) per group: config.py's production setting (its default
    or CELLBATCH_ARGON2_*) and the test suite's cheap one."""
    from config import Config, TestConfig

    return {
        "production": (Config.ARGON2_TIME_COST, Config.ARGON2_MEMORY_COST, Config.ARGON2_PARALLELISM),
        "cheap": (TestConfig.ARGON2_TIME_COST, TestConfig.ARGON2_MEMORY_COST, TestConfig.ARGON2_PARALLELISM),
    }


def hashers() -> dict[str, PasswordHasher]:
    """The hashers of the seeded accounts, per group (benchmarks.seed.HASHERS is patched with them)."""
    return {
        group: PasswordHasher(time_cost=t, memory_cost=m, parallelism=p)
        for group, (t, m, p) in argon2_settings().items()
    }


def server_env(url: str, group: str) -> dict[str, str]:
    """The environment of a group's server: the bench database and the group's argon2id setting."""
    t, m, p = argon2_settings()[group]
    return {"BENCH_DATABASE_URL": url, "CELLBATCH_ARGON2_TIME_COST": str(t),
            "CELLBATCH_ARGON2_MEMORY_COST": str(m), "CELLBATCH_ARGON2_PARALLELISM": str(p)}  # fmt: skip


# --- seeding -------------------------------------------------------------------------------


def _step_fields(definition: Any, values: dict[str, Any], step_code: str, own: dict[str, str]) -> dict[str, str]:
    """The form fields an operator types for one step (in_<input>, timers as start/stop)."""
    from app.mbr.schema import MaterialInput, TimerInput

    fields: dict[str, str] = {}
    for item in definition.step(step_code).inputs:
        raw = values[(step_code, item.name)]
        name = "in_" + item.name
        value = raw.value
        if isinstance(item, MaterialInput):
            value = own[item.bom]
        if isinstance(item, TimerInput):
            fields[name + "__start"], fields[name + "__stop"] = value.split("/")
        elif value is not None:
            fields[name] = value
        if raw.quantity is not None:
            fields[name + "__qty"] = raw.quantity
    return fields


def seed(app: Any, operators: int) -> dict[str, Any]:
    """Accounts (both hash costs), SHORT-TEST Effective, training, each operator's own stock."""
    from app.batches.simulate import Autopilot
    from app.common.db import unit_of_work
    from app.extensions import db
    from benchmarks import seed as s

    with app.app_context(), unit_of_work(db.session) as session:
        with s.account_hashing("cheap"):
            qa = s.make_user(session, "bench.qa", "Bench QA", ["qa"])
            trainer = s.make_user(session, "bench.trainer", "Bench Trainer", ["supervisor"])
        version = s.effective_template(session, qa, TEMPLATE_CODE, s.SHORT_DIR)
        s.equipment(session, "BSC-01", "BSC")
        s.equipment(session, "CNT-01", "COUNTER")
        definition = version.definition
        pilot = Autopilot(session, trainer, trainer, PASSWORD, lambda _t: None)
        values = {(st.code, i.name): pilot.value_for(definition, st, i) for st in definition.steps for i in st.inputs}
        plan: dict[str, Any] = {
            "version_id": version.id,
            "critical": [s_.code for s_ in definition.steps if s_.critical],
            "steps": [st.code for st in definition.steps],
            "groups": {},
        }
        for group in GROUPS:
            accounts = []
            with s.account_hashing(group):
                for i in range(operators):
                    performer = s.make_user(
                        session, f"op.{group}.{i}", f"Operator {group} {i}", ["operator", "supervisor"]
                    )
                    verifier = s.make_user(session, f"ver.{group}.{i}", f"Verifier {group} {i}", ["operator"])
                    for user in (performer, verifier):
                        s.train(session, trainer, user, TEMPLATE_CODE)
                    own = {}
                    for bom, unit in (("MEDIUM-A", "mL"), ("CRYO-VIAL", "vial")):
                        code = f"{bom[:3]}-{group[:4]}-{i}".upper()
                        s.material(session, code, bom, Decimal("10000000") if unit == "mL" else None, unit)
                        own[bom] = code
                    fields = {c: _step_fields(definition, values, c, own) for c in plan["steps"]}
                    accounts.append({"performer": performer.username, "verifier": verifier.username, "fields": fields})
            plan["groups"][group] = accounts
    return plan


# --- the simulated operator ----------------------------------------------------------------


class Operator:
    """One performer + verifier pair working through their own lots over HTTP."""

    def __init__(self, port: int, account: dict[str, Any], plan: dict[str, Any], browser: Any = Browser) -> None:
        self.performer, self.verifier = browser(port), browser(port)
        self.account, self.plan = account, plan
        self.queue: list[tuple[int, str]] = []
        self.lot_id: int | None = None
        self.errors = 0
        #: Mean seconds an operator takes between two requests (0: as fast as the server answers).
        self.think = 0.0
        self._rng = random.Random(account["performer"])  # noqa: S311 - think times, not secrets

    def login(self) -> None:
        for browser, username in (
            (self.performer, self.account["performer"]),
            (self.verifier, self.account["verifier"]),
        ):
            page = browser.get("/login")
            reply = browser.post(
                "/login",
                {"username": username, "password": PASSWORD, "csrf_token": hidden_value(page.body, "csrf_token") or ""},
            )
            if reply.status != 302:
                raise RuntimeError(f"login of {username} failed: {reply.status}")

    def _record(self, rec: Recorder, kind: str, response: Any, ok: bool, started: float) -> bool:
        note = "" if ok else re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.body))[:300]
        rec.add(Sample(kind, response.seconds, ok, started, response.status, note))
        if not ok:
            self.errors += 1
        return ok

    def _call(
        self,
        rec: Recorder,
        budget: threading.Semaphore,
        kind: str,
        browser: Browser,
        method: str,
        path: str,
        fields: dict[str, str] | None,
        expect: int,
    ) -> Any:
        if not budget.acquire(blocking=False):
            raise TimeoutError("request budget spent")
        started = time.monotonic()
        response = browser.request(method, path, fields)
        ok = response.status == expect and "/login" not in response.headers.get("Location", "")
        self._record(rec, kind, response, ok, started)
        if self.think:
            time.sleep(min(self._rng.expovariate(1 / self.think), 4 * self.think))
        return response if ok else None

    def _start_lot(self, rec: Recorder, budget: threading.Semaphore) -> bool:
        page = self._call(rec, budget, "start_lot_page", self.performer, "GET", "/lots/new", None, 200)
        if page is None:
            return False
        reply = self._call(
            rec,
            budget,
            "start_lot",
            self.performer,
            "POST",
            "/lots/new",
            {
                "csrf_token": hidden_value(page.body, "csrf_token") or "",
                "template_version_id": str(self.plan["version_id"]),
                "starting_material": "WCB-BENCH vial 1",
            },
            302,
        )
        if reply is None:
            return False
        self.lot_id = int(re.search(r"/lots/(\d+)", reply.headers["Location"]).group(1))
        lot_page = self._call(rec, budget, "lot_page", self.performer, "GET", f"/lots/{self.lot_id}", None, 200)
        if lot_page is None:
            return False
        ids = sorted({int(m) for m in re.findall(rf"/lots/{self.lot_id}/steps/(\d+)", lot_page.body)})
        self.queue = list(zip(ids, self.plan["steps"], strict=True))
        return True

    def _do_step(self, rec: Recorder, budget: threading.Semaphore, step_id: int, code: str) -> bool:
        path = f"/lots/{self.lot_id}/steps/{step_id}"
        page = self._call(rec, budget, "step_page", self.performer, "GET", path, None, 200)
        if page is None:
            return False
        fields = {
            **self.account["fields"][code],
            "csrf_token": hidden_value(page.body, "csrf_token") or "",
            "expected_version": hidden_value(page.body, "expected_version") or "",
            "action": "complete",
            "sig_username": self.account["performer"],
            "sig_password": PASSWORD,
            "sig_accept_policy": "y",
        }
        if self._call(rec, budget, "save_and_sign", self.performer, "POST", path, fields, 302) is None:
            return False
        if code not in self.plan["critical"]:
            return True
        page = self._call(rec, budget, "step_page", self.verifier, "GET", path, None, 200)
        if page is None:
            return False
        fields = {
            "csrf_token": hidden_value(page.body, "csrf_token") or "",
            "expected_version": hidden_value(page.body, "expected_version", nth=-1) or "",
            "sig_username": self.account["verifier"],
            "sig_password": PASSWORD,
            "sig_accept_policy": "y",
        }
        return self._call(rec, budget, "verify", self.verifier, "POST", path + "/verify", fields, 302) is not None

    def browse_dashboard(self, rec: Recorder, deadline: float, budget: threading.Semaphore) -> None:
        """The reference loop: the performer's dashboard (DASHBOARD), again and again."""
        try:
            while time.monotonic() < deadline and self.errors < 25:
                self._call(rec, budget, "dashboard", self.performer, "GET", DASHBOARD, None, 200)
        except TimeoutError:
            return

    def run(self, rec: Recorder, deadline: float, budget: threading.Semaphore) -> None:
        try:
            while time.monotonic() < deadline and self.errors < 25:
                if not self.queue and not self._start_lot(rec, budget):
                    continue
                step_id, code = self.queue.pop(0)
                if not self._do_step(rec, budget, step_id, code):
                    self.queue = []  # a refused step leaves the lot behind: start a new one
        except TimeoutError:
            return


# --- SQL statements per request -----------------------------------------------------------


@dataclass
class StatementRecorder(Recorder):
    """A Recorder that also notes how many SQL statements each recorded request sent."""

    counted: dict[str, list[int]] = field(default_factory=dict)
    pending: int = 0

    def statement(self, *_args: Any) -> None:
        self.pending += 1

    def add(self, sample: Sample) -> None:
        super().add(sample)
        self.counted.setdefault(sample.kind, []).append(self.pending)
        self.pending = 0


def count_statements(url: str, plan: dict[str, Any]) -> dict[str, Any]:
    """One cheap-group operator's loop served in this process: SQL statements per request kind."""
    from sqlalchemy import event

    from app.extensions import db

    app = make_app(url, migrate=False, cheap_hashing=True)  # the cheap accounts' own parameters
    operator = Operator(0, plan["groups"]["cheap"][0], plan, browser=lambda _port: InProcessBrowser(app))
    operator.login()
    rec = StatementRecorder()
    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", rec.statement)
    try:
        operator.run(rec, time.monotonic() + 120, threading.Semaphore(COUNTED_REQUESTS))
    finally:
        event.remove(engine, "before_cursor_execute", rec.statement)
    medians = {kind: statistics.median(c) for kind, c in rec.counted.items()}
    return {
        kind: {"n": len(c), "median": int(medians[kind]) if medians[kind] % 1 == 0 else medians[kind],
               "min": min(c), "max": max(c)}
        for kind, c in sorted(rec.counted.items())
    }  # fmt: skip


# --- the floor client ----------------------------------------------------------------------


def floor_worker(port: int):  # type: ignore[no-untyped-def]
    def work(rec: Recorder, deadline: float, budget: threading.Semaphore) -> None:
        browser, errors = Browser(port), 0
        while time.monotonic() < deadline and errors < 25 and budget.acquire(blocking=False):
            started = time.monotonic()
            response = browser.post("/insert", {"value": "x" * 64})
            ok = response.status == 201
            errors += not ok
            rec.add(Sample("insert", response.seconds, ok, started, response.status, "" if ok else response.body[:300]))

    return work


def create_floor_table(url: str) -> None:
    """The floor's table, made before its server starts: two workers creating it at once made one
    fail to boot, and gunicorn stop with it (a run without a floor)."""
    import sqlalchemy as sa

    from benchmarks.floor_app import metadata

    engine = sa.create_engine(url)
    metadata.create_all(engine)
    engine.dispose()


# --- measuring -----------------------------------------------------------------------------


def summarize(rec: Recorder, wall: float, warmup: float, t0: float) -> dict[str, Any]:
    """Stats of the samples started after the warm-up; rps over the measured window."""
    cutoff = t0 + warmup
    samples = [s for s in rec.samples if s.started >= cutoff]
    window = max(wall - warmup, 1e-9)
    kinds = sorted({s.kind for s in samples})
    errors = [s for s in samples if not s.ok]
    return {
        "requests": len(samples),
        "window_s": round(window, 2),
        "rps": round(len(samples) / window, 2),
        "errors": len(errors),
        "error_rate": round(len(errors) / len(samples), 4) if samples else None,
        "error_examples": sorted({f"{s.kind} {s.status}: {s.note[:160]}" for s in errors})[:5],
        "all": latency_stats([s.seconds for s in samples]),
        "by_kind": {k: latency_stats([s.seconds for s in samples if s.kind == k]) for k in kinds},
        "signed_steps_per_s": round(sum(1 for s in samples if s.kind == "save_and_sign" and s.ok) / window, 2),
    }


def load_level(workers: list[Any], duration: float, warmup: float) -> dict[str, Any]:
    t0 = time.monotonic()
    rec, wall = run_threads(workers, duration, max_requests=100_000)
    return summarize(rec, wall, warmup, t0)


def argon2_cost() -> dict[str, Any]:
    """What one password check costs here, per parameter set (a signature re-checks it)."""
    from benchmarks.common import timed

    out = {}
    for name, hasher in {**hashers(), "library_default": PasswordHasher()}.items():
        digest = hasher.hash(PASSWORD)
        times, _ = timed(lambda h=hasher, d=digest: h.verify(d, PASSWORD), repeat=5)
        out[name] = {
            "params": f"t={hasher.time_cost}, m={hasher.memory_cost} KiB, p={hasher.parallelism}",
            **latency_stats(times),
        }
    return out


def run(size: str, engine: str = "postgresql") -> dict[str, Any]:
    duration, warmup = DURATION[size], WARMUP[size]
    result: dict[str, Any] = {
        "think_s": THINK_S,
        "levels": list(LEVELS),
        "duration_s": duration,
        "warmup_s": warmup,
        "workers": os.cpu_count(),
        "template": TEMPLATE_CODE,
        "argon2_verify": argon2_cost(),
    }
    with database("cellbatch_bench_floor") as floor_url:
        create_floor_table(floor_url)
        with Server("benchmarks.floor_app:app_from_env()", {"BENCH_DATABASE_URL": floor_url}) as server:
            result["floor"] = {}
            for n in LEVELS:
                log(f"step entry floor, {n} clients")
                result["floor"][str(n)] = load_level([floor_worker(server.port) for _ in range(n)], duration, warmup)
    with database("cellbatch_bench_load") as url:
        app = make_app(url)
        log("step entry: seeding accounts and stock")
        from benchmarks import seed as s

        with mock.patch.dict(s.HASHERS, hashers()):
            plan = seed(app, max(LEVELS))
        for key, group, extra_env, levels in RUNS:
            with Server("benchmarks.wsgi:app", {**server_env(url, group), **extra_env}) as server:
                operators = [Operator(server.port, a, plan) for a in plan["groups"][group][: max(levels)]]
                log(f"step entry ({key}): logging in {len(operators)} operator pairs")
                threads = [threading.Thread(target=o.login) for o in operators]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                result[key] = {}
                for n in levels:
                    log(f"step entry ({key}), {n} operators")
                    level = load_level([o.run for o in operators[:n]], duration, warmup)
                    level["rps_vs_floor"] = ratio(level["rps"], result["floor"][str(n)]["rps"])
                    result[key][str(n)] = level
                if key == "production":
                    result["dashboard"] = {}
                    for n in levels:
                        log(f"step entry reference: the dashboard, {n} operators")
                        level = load_level([o.browse_dashboard for o in operators[:n]], duration, warmup)
                        level["rps_vs_floor"] = ratio(level["rps"], result["floor"][str(n)]["rps"])
                        result["dashboard"][str(n)] = level
                    # operators who take time to read and type, as people do
                    for o in operators:
                        o.think = THINK_S
                    result["production_paced"] = {}
                    for n in PACED_LEVELS:
                        log(f"step entry (production argon2, {THINK_S:g} s think time), {n} operators")
                        level = load_level([o.run for o in operators[:n]], duration, warmup)
                        result["production_paced"][str(n)] = level
        log("step entry: SQL statements per request (in-process)")
        result["statements_per_request"] = count_statements(url, plan)
    return result


if __name__ == "__main__":
    scenario_main(run)
