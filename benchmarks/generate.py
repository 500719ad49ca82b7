"""Scale generator: a site's decade of executed XS411-DA-NPC lots, loaded with PostgreSQL COPY.

Each generated lot is what the real services write when a lot is executed to the end (the
Autopilot run was the model, event for event): the lot and its 54 step records, 268 entries,
one signature per performed step and per verified critical step, and the 534 audit events of
those actions with the same action names, changes and details. Events of the ~55 lots running
at any moment are interleaved in time order, as a real trail is; the hash chain continues from
the current head, each hash computed as app.audit.chain.event_hash does (checked against it at
start), so `flask audit verify` (chain, record replay and signatures) passes on the result.

Decade = 10,000 lots (one every 8.8 hours over ten years), 2.68 million entries and 5.34
million events; scale 1 is the first year (a tenth), and `append_lots` continues from where
the previous call stopped, so 1x can be measured and then grown to 10x.

Bulk-load practice: the big tables' secondary indexes are dropped before COPY and rebuilt
after (exactly as they were defined), foreign-key triggers are off for the loading session
(session_replication_role = replica; every reference generated points at an existing row),
then the tables are analyzed.
"""

from __future__ import annotations

import heapq
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from hashlib import sha256
from typing import Any

import psycopg

from app.audit.chain import GENESIS_HASH, HASHED_FIELDS, event_hash
from app.common.canonical import content_hash
from app.common.timeutil import format_utc
from benchmarks.common import log

DECADE_LOTS = 10_000
LOT_INTERVAL = timedelta(days=3652.5) / DECADE_LOTS
STEP_SPACING = timedelta(days=20) / 54
BIG_TABLES = ("audit_events", "entries", "step_records", "signatures")
COLUMNS = {
    "lots": (
        "id",
        "lot_number",
        "product",
        "template_version_id",
        "status",
        "started_at",
        "started_by_id",
        "starting_material",
        "executed_at",
        "dispositioned_at",
        "version_id",
    ),
    "step_records": (
        "id",
        "lot_id",
        "step_code",
        "seq",
        "status",
        "started_at",
        "completed_at",
        "performed_by_id",
        "verified_by_id",
        "version_id",
    ),
    "entries": (
        "id",
        "lot_id",
        "step_record_id",
        "input_name",
        "value_text",
        "value_decimal",
        "unit",
        "quantity",
        "material_lot_id",
        "equipment_id",
        "limit_status",
        "limit_message",
        "comment",
        "entered_by_id",
        "entered_at",
        "corrects_id",
        "correction_reason",
        "superseded_by_id",
    ),
    "signatures": (
        "id",
        "signer_id",
        "signer_name",
        "signer_username",
        "meaning",
        "signed_at",
        "entity_type",
        "entity_id",
        "lot_id",
        "content_hash",
        "comment",
        "policy_version",
    ),
    "audit_events": (*HASHED_FIELDS, "prev_hash", "hash"),
}
FLUSH_EVENTS = 60_000
#: canonical_json's exact output for what is generated here (str, int, None, lists, dicts; no floats
#: to refuse, Decimals and times already text), without its per-value float check.
canonical_json = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


@dataclass(frozen=True)
class Person:
    id: int
    full_name: str
    username: str

    @property
    def actor(self) -> str:
        return f"{self.full_name} ({self.username})"


@dataclass
class Model:
    """What every generated lot is made of, read once from the seeded database."""

    template_version_id: int
    product: str
    code: str
    steps: list[dict[str, Any]]  # code, seq, critical, entries (static column values)
    supervisor: Person
    crews: list[tuple[Person, Person]]  # performer, verifier
    start: datetime  # the decade's first lot start


@dataclass
class Counters:
    lot: int
    step: int
    entry: int
    signature: int
    event: int
    head: str
    numbers: dict[int, int] = field(default_factory=dict)  # year -> last lot sequence


def check_hash_equivalence() -> None:
    """The generator hashes events itself (no per-row dict copies): prove it equals event_hash."""
    at = datetime(2026, 1, 2, 3, 4, 5, 6789, tzinfo=UTC)
    row = {
        "id": 7,
        "occurred_at": at,
        "actor_id": 3,
        "actor_name": "A (a)",
        "action": "x.y",
        "entity_type": "Entry",
        "entity_id": "9",
        "lot_id": 2,
        "changes": '{"a":[null,"µL"]}',
        "reason": None,
        "details": "{}",
    }
    payload = {**row, "occurred_at": format_utc(at)}
    if set(payload) != set(HASHED_FIELDS) or sha256(
        (GENESIS_HASH + canonical_json(payload)).encode()
    ).hexdigest() != event_hash(GENESIS_HASH, row):
        raise RuntimeError("the generator's event hash no longer matches app.audit.chain.event_hash")


def _snapshot(values: dict[str, Any]) -> dict[str, list[Any]]:
    return {k: [None, v] for k, v in values.items() if v is not None}


class Writer:
    """Rows per table, flushed with COPY; events get their id and chained hash here."""

    def __init__(self, connection: psycopg.Connection, counters: Counters) -> None:
        self.connection, self.c = connection, counters
        self.rows: dict[str, list[tuple]] = {t: [] for t in COLUMNS}
        self.copied = dict.fromkeys(COLUMNS, 0)
        self._details_cache: dict[tuple, str] = {}

    def add(self, table: str, row: tuple) -> None:
        self.rows[table].append(row)

    def event(
        self,
        at: datetime,
        actor: Person,
        action: str,
        entity: tuple[str, str],
        lot_id: int,
        changes: dict[str, Any],
        details: dict[str, Any],
    ) -> None:
        self.c.event += 1
        changes_text, details_text = canonical_json(changes), self._details(details)
        payload = {
            "id": self.c.event,
            "occurred_at": format_utc(at),
            "actor_id": actor.id,
            "actor_name": actor.actor,
            "action": action,
            "entity_type": entity[0],
            "entity_id": entity[1],
            "lot_id": lot_id,
            "changes": changes_text,
            "reason": None,
            "details": details_text,
        }
        digest = sha256((self.c.head + canonical_json(payload)).encode()).hexdigest()
        self.rows["audit_events"].append(
            (
                self.c.event,
                at,
                actor.id,
                payload["actor_name"],
                action,
                entity[0],
                entity[1],
                lot_id,
                changes_text,
                None,
                details_text,
                self.c.head,
                digest,
            )
        )
        self.c.head = digest
        if len(self.rows["audit_events"]) >= FLUSH_EVENTS:
            self.flush()

    def _details(self, details: dict[str, Any]) -> str:
        """Most events share a handful of details objects: encode each once."""
        if "content_hash" in details:
            return canonical_json(details)
        key = tuple(details.items())
        text = self._details_cache.get(key)
        if text is None:
            text = self._details_cache[key] = canonical_json(details)
        return text

    def flush(self) -> None:
        with self.connection.cursor() as cursor:
            for table, rows in self.rows.items():
                if not rows:
                    continue
                with cursor.copy(f"COPY {table} ({', '.join(COLUMNS[table])}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                self.copied[table] += len(rows)
                rows.clear()
        self.connection.commit()


def _lot_actions(model: Model, k: int, w: Writer) -> Iterator[tuple[datetime, Any]]:
    """The timed actions of lot number k of the decade, as callables run in global time order."""
    start = model.start + LOT_INTERVAL * k
    performer, verifier = model.crews[k % len(model.crews)]
    state: dict[str, Any] = {}

    def started() -> None:
        c = w.c
        c.lot += 1
        lot_id = state["lot_id"] = c.lot
        year = start.year
        c.numbers[year] = c.numbers.get(year, 0) + 1
        number = f"XS411-{year}-{c.numbers[year]:04d}"
        sup = model.supervisor
        executed = start + STEP_SPACING * model.steps[-1]["seq"] + timedelta(minutes=6)
        state["executed_at"] = executed
        w.add(
            "lots",
            (
                lot_id,
                number,
                model.product,
                model.template_version_id,
                "executed",
                start,
                sup.id,
                "WCB-BENCH vial 1",
                executed,
                None,
                2,
            ),
        )
        lot_values = {
            "id": lot_id,
            "lot_number": number,
            "product": model.product,
            "started_at": format_utc(start),
            "started_by_id": sup.id,
            "starting_material": "WCB-BENCH vial 1",
            "status": "in_progress",
            "template_version_id": model.template_version_id,
            "version_id": 1,
        }
        w.event(start, sup, "lot.started", ("Lot", str(lot_id)), lot_id, _snapshot(lot_values), {"change": "created"})
        ids = state["steps"] = {}
        for step in model.steps:
            c.step += 1
            ids[step["code"]] = c.step
            values = {
                "id": c.step,
                "lot_id": lot_id,
                "seq": step["seq"],
                "status": "pending",
                "step_code": step["code"],
                "version_id": 1,
            }
            w.event(
                start, sup, "lot.started", ("StepRecord", str(c.step)), lot_id, _snapshot(values), {"change": "created"}
            )

    yield start, started
    for step in model.steps:
        at = start + STEP_SPACING * step["seq"]
        yield at, lambda step=step, at=at: _do_step(model, w, state, step, at, performer, verifier)
    yield start + STEP_SPACING * model.steps[-1]["seq"] + timedelta(minutes=6), lambda: _executed(w, state, verifier)


def _do_step(
    model: Model,
    w: Writer,
    state: dict[str, Any],
    step: dict[str, Any],
    at: datetime,
    performer: Person,
    verifier: Person,
) -> None:
    c, lot_id = w.c, state["lot_id"]
    step_id = state["steps"][step["code"]]
    ref = ("StepRecord", str(step_id))
    details = {"change": "created", "step": step["code"]}
    for n, e in enumerate(step["entries"]):
        c.entry += 1
        entered = at + timedelta(milliseconds=n)
        w.add(
            "entries",
            (
                c.entry,
                lot_id,
                step_id,
                e["input_name"],
                e["value_text"],
                e["value_decimal"],
                e["unit"],
                e["quantity"],
                e["material_lot_id"],
                e["equipment_id"],
                e["limit_status"],
                e["limit_message"],
                None,
                performer.id,
                entered,
                None,
                None,
                None,
            ),
        )
        values = {
            **e,
            "id": c.entry,
            "lot_id": lot_id,
            "step_record_id": step_id,
            "entered_by_id": performer.id,
            "entered_at": format_utc(entered),
        }
        w.event(
            entered, performer, "step.entries_recorded", ("Entry", str(c.entry)), lot_id, _snapshot(values), details
        )
    saved = at + timedelta(seconds=1)
    w.event(
        saved,
        performer,
        "step.entries_recorded",
        ref,
        lot_id,
        {"started_at": [None, format_utc(saved)], "status": ["pending", "in_progress"]},
        {"change": "changed", "step": step["code"]},
    )
    signed_hash = content_hash(
        {
            "entity_type": "StepRecord",
            "entity_id": str(step_id),
            "content": {"lot_id": lot_id, "step_code": step["code"], "entries": step["content"]},
        }
    )
    done = at + timedelta(minutes=2)
    _sign(w, performer, "performed", done, ref, lot_id, signed_hash)
    final = "awaiting_verification" if step["critical"] else "complete"
    w.event(
        done,
        performer,
        "step.performed",
        ref,
        lot_id,
        {
            "completed_at": [None, format_utc(done)],
            "performed_by_id": [None, performer.id],
            "started_at": [None, format_utc(saved)],
            "status": ["in_progress", final],
        },
        {"change": "changed", "step": step["code"]},
    )
    verified_by = None
    if step["critical"]:
        checked = at + timedelta(minutes=5)
        _sign(w, verifier, "verified", checked, ref, lot_id, signed_hash)
        w.event(
            checked,
            verifier,
            "step.verified",
            ref,
            lot_id,
            {
                "started_at": [None, format_utc(saved)],
                "status": ["awaiting_verification", "complete"],
                "verified_by_id": [None, verifier.id],
            },
            {"change": "changed", "step": step["code"]},
        )
        verified_by = verifier.id
    w.add(
        "step_records",
        (
            step_id,
            lot_id,
            step["code"],
            step["seq"],
            "complete",
            saved,
            done,
            performer.id,
            verified_by,
            4 if step["critical"] else 3,
        ),
    )


def _sign(
    w: Writer, signer: Person, meaning: str, at: datetime, ref: tuple[str, str], lot_id: int, digest: str
) -> None:
    w.c.signature += 1
    sid = w.c.signature
    w.add(
        "signatures",
        (sid, signer.id, signer.full_name, signer.username, meaning, at, ref[0], ref[1], lot_id, digest, None, "1"),
    )
    w.event(
        at,
        signer,
        f"signature.{meaning}",
        ref,
        lot_id,
        {"signature": [None, sid]},
        {"comment": None, "content_hash": digest, "ip": "127.0.0.1", "meaning": meaning},
    )


def _executed(w: Writer, state: dict[str, Any], verifier: Person) -> None:
    at = state["executed_at"]
    w.event(
        at,
        verifier,
        "lot.executed",
        ("Lot", str(state["lot_id"])),
        state["lot_id"],
        {"executed_at": [None, format_utc(at)], "status": ["in_progress", "executed"]},
        {"change": "changed"},
    )


# --- reading the model and the counters ------------------------------------------------------


def read_model(
    connection: psycopg.Connection,
    values: dict[tuple[str, str], dict[str, Any]],
    definition: Any,
    crews: list[tuple[int, int]],
    supervisor_id: int,
) -> Model:
    """The template version, people and per-input entry values (computed by the caller's services)."""
    cur = connection.cursor()
    version_id, product = cur.execute(
        "SELECT id, product FROM mbr_versions WHERE code = %s AND status = 'effective'", (definition.code,)
    ).fetchone()
    people = {r[0]: Person(*r) for r in cur.execute("SELECT id, full_name, username FROM users").fetchall()}
    steps = []
    for seq, step in enumerate(definition.steps, start=1):
        entries = [values[(step.code, i.name)] for i in step.inputs]
        content = sorted(
            [e["input_name"], e["value_text"], e["unit"] or "", str(_dec(e["quantity"]) or ""), ""] for e in entries
        )
        steps.append({"code": step.code, "seq": seq, "critical": step.critical, "entries": entries, "content": content})
    return Model(
        version_id,
        product,
        definition.code,
        steps,
        people[supervisor_id],
        [(people[p], people[v]) for p, v in crews],
        decade_start(),
    )


def _dec(text: str | None) -> Decimal | None:
    return Decimal(text) if text is not None else None


def decade_start() -> datetime:
    """Ten years of lots ending a month before today (all executed), at a fixed time of day."""
    today = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0)
    return today - timedelta(days=30) - LOT_INTERVAL * DECADE_LOTS


def read_counters(connection: psycopg.Connection) -> Counters:
    cur = connection.cursor()

    def top(table: str) -> int:
        return cur.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0]  # noqa: S608 - fixed names

    head = cur.execute("SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1").fetchone()
    counters = Counters(
        top("lots"),
        top("step_records"),
        top("entries"),
        top("signatures"),
        top("audit_events"),
        head[0] if head else GENESIS_HASH,
    )
    for (number,) in cur.execute("SELECT lot_number FROM lots WHERE lot_number LIKE 'XS411-%'"):
        _, year, seq = number.split("-")
        counters.numbers[int(year)] = max(counters.numbers.get(int(year), 0), int(seq))
    return counters


# --- index handling -----------------------------------------------------------------------


def drop_secondary_indexes(connection: psycopg.Connection) -> list[str]:
    """Drop the big tables' non-primary indexes; return the statements that rebuild them."""
    rebuild, drops = [], []
    for table in BIG_TABLES:
        rows = connection.execute(
            """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid), c.conname,
                      pg_get_constraintdef(c.oid)
               FROM pg_index i LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid
               WHERE i.indrelid = %s::regclass AND NOT i.indisprimary""",
            (table,),
        ).fetchall()
        for index, indexdef, constraint, condef in rows:
            if constraint:
                drops.append(f'ALTER TABLE {table} DROP CONSTRAINT "{constraint}"')
                rebuild.append(f'ALTER TABLE {table} ADD CONSTRAINT "{constraint}" {condef}')
            else:
                drops.append(f"DROP INDEX {index}")
                rebuild.append(indexdef)
    for statement in drops:
        connection.execute(statement)
    connection.commit()
    return rebuild


def rebuild_indexes(connection: psycopg.Connection, statements: list[str]) -> None:
    for statement in statements:
        connection.execute(statement)
        connection.commit()


def fix_sequences(connection: psycopg.Connection) -> None:
    for table in ("lots", "step_records", "entries", "signatures"):
        connection.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT coalesce(max(id), 1) FROM {table}))"  # noqa: S608
        )
    connection.commit()


# --- the entry point ------------------------------------------------------------------------


def append_lots(dsn: str, model: Model, first: int, count: int) -> dict[str, Any]:
    """Generate lots first .. first+count-1 of the decade; return counts and timings."""
    check_hash_equivalence()
    timings: dict[str, float] = {}
    with psycopg.connect(dsn) as connection:
        connection.execute("SET maintenance_work_mem = '512MB'")
        connection.execute("SET session_replication_role = replica")  # FK triggers off while loading
        connection.commit()
        t = time.perf_counter()
        rebuild = drop_secondary_indexes(connection)
        counters = read_counters(connection)
        writer = Writer(connection, counters)
        queue: list[tuple[datetime, int, int, Any]] = []  # (time, tiebreak, lot k, callable)
        lots = iter(range(first, first + count))
        pending: dict[int, Iterator[tuple[datetime, Any]]] = {}
        order = 0
        next_k = next(lots, None)
        t_gen = time.perf_counter()
        while next_k is not None or queue:
            # Admit every lot that starts before the earliest queued action.
            while next_k is not None and (not queue or model.start + LOT_INTERVAL * next_k <= queue[0][0]):
                actions = _lot_actions(model, next_k, writer)
                pending[next_k] = actions
                at, act = next(actions)
                order += 1
                heapq.heappush(queue, (at, order, next_k, act))
                next_k = next(lots, None)
            at, _, k, act = heapq.heappop(queue)
            act()
            following = next(pending[k], None)
            if following is None:
                del pending[k]
            else:
                order += 1
                heapq.heappush(queue, (following[0], order, k, following[1]))
        writer.flush()
        timings["generate_and_copy_s"] = round(time.perf_counter() - t_gen, 1)
        t_idx = time.perf_counter()
        connection.execute("SET session_replication_role = origin")
        rebuild_indexes(connection, rebuild)
        timings["rebuild_indexes_s"] = round(time.perf_counter() - t_idx, 1)
        fix_sequences(connection)
        t_an = time.perf_counter()
        connection.autocommit = True
        for table in (*BIG_TABLES, "lots"):
            connection.execute(f"VACUUM (ANALYZE) {table}")
        timings["vacuum_analyze_s"] = round(time.perf_counter() - t_an, 1)
        timings["total_s"] = round(time.perf_counter() - t, 1)
    log(f"generated lots {first}..{first + count - 1}: {writer.copied} in {timings}")
    return {"rows": writer.copied, "timings": timings}
