"""Appending to and verifying the hash chain of audit events."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, insert, select

from app.audit.models import AuditEvent
from app.common.canonical import sha256_hex
from app.common.timeutil import format_utc

GENESIS_HASH = "0" * 64
#: Key of the PostgreSQL transaction-level advisory lock that serializes appends.
CHAIN_LOCK_KEY = 0x0CE11BA7C4
_table = AuditEvent.__table__
HASHED_FIELDS = (
    "id", "occurred_at", "actor_id", "actor_name", "action", "entity_type", "entity_id",
    "lot_id", "changes", "reason", "details",
)  # fmt: skip


_encoder = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
#: The C encoder that _encoder.encode(payload) builds anew on every call (with a closure and a
#: cycle-check dict), built once: a third of the JSON time when verify hashes millions of events.
#: No cycle check (markers None): a payload is one flat dict of scalars. Same bytes as encode().
_encode_chunks = json.encoder.c_make_encoder(
    None, _encoder.default, json.encoder.encode_basestring, None, ":", ",", True, False, True
)


def _canonical(payload: dict[str, Any]) -> str:
    """json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)."""
    return "".join(_encode_chunks(payload, 0))


#: Columns read to verify an event: the hashed fields, then the stored link and hash.
_STORED = (*HASHED_FIELDS, "prev_hash", "hash")


def event_hash(prev_hash: str, row: Mapping[str, Any]) -> str:
    """SHA-256 over the previous hash and the canonical JSON of the event's fields."""
    payload = {name: row[name] for name in HASHED_FIELDS}
    payload["occurred_at"] = format_utc(row["occurred_at"])
    return sha256_hex(prev_hash + _canonical(payload))


def lock_chain(connection: Connection) -> None:
    """Serialize appenders until this transaction ends (SQLite: BEGIN IMMEDIATE holds it)."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({CHAIN_LOCK_KEY})")


def chain_head(connection: Connection) -> tuple[int, str]:
    """The id and hash of the newest event (0 and the genesis hash for an empty trail)."""
    row = connection.execute(
        select(_table.c.id, _table.c.hash).order_by(_table.c.id.desc()).limit(1)
    ).first()
    return (row.id, row.hash) if row else (0, GENESIS_HASH)


#: connection.info key of the chain head this connection's open transaction appended last.
_HEAD = "cellbatch.audit_head"


def _transaction_of(connection: Connection) -> tuple[Any, Any]:
    """The transaction and savepoint now open: the cached head is valid only within both (a
    rolled-back savepoint took its events with it)."""
    return connection.get_transaction(), connection.get_nested_transaction()


def append_events(connection: Connection, rows: list[dict[str, Any]]) -> list[int]:
    """Give each row the next id and its chained hash, then insert them in one statement.

    The first append of a transaction takes the chain's lock and reads the head; later appends
    in the same transaction (an action writes several events) reuse the head it left: the lock,
    held until the transaction ends, means nobody else appended meanwhile."""
    if not rows:
        return []
    transaction = _transaction_of(connection)
    cached = connection.info.get(_HEAD)
    if cached is not None and cached[0] == transaction:
        last_id, prev_hash = cached[1], cached[2]
    else:
        lock_chain(connection)
        last_id, prev_hash = chain_head(connection)
    for row in rows:
        last_id += 1
        row["id"] = last_id
        row["prev_hash"] = prev_hash
        row["hash"] = prev_hash = event_hash(prev_hash, row)
    connection.execute(insert(_table), rows)
    connection.info[_HEAD] = (transaction, last_id, prev_hash)
    return [row["id"] for row in rows]


@dataclass(frozen=True)
class ChainReport:
    """Outcome of verifying the whole chain."""

    count: int
    head_hash: str
    broken_id: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_id is None


def iter_events(connection: Connection, batch: int = 5000, first_id: int | None = None,
                last_id: int | None = None) -> Iterator[Any]:  # fmt: skip
    """Stream events in chain order (optionally ids first_id..last_id) without holding them in memory."""
    # Options on the statement, not on the connection: Connection.execution_options() changes
    # the connection in place, and a session's connection then ran every later statement
    # (even ROLLBACK TO SAVEPOINT) through a server-side cursor on PostgreSQL.
    query = (select(*(_table.c[name] for name in _STORED)).order_by(_table.c.id)
             .execution_options(stream_results=True, yield_per=batch))  # fmt: skip
    if first_id is not None:
        query = query.where(_table.c.id >= first_id)
    if last_id is not None:
        query = query.where(_table.c.id <= last_id)
    result = connection.execute(query)
    try:
        yield from result
    finally:
        result.close()  # a broken link stops reading early: close the server-side cursor


def verify_rows(rows: Iterable[Any], first_id: int = 1, prev_hash: str = GENESIS_HASH,
                last_id: int | None = None) -> ChainReport:  # fmt: skip
    """Recompute every link; report the first event whose id, link or hash is wrong.

    The whole chain by default; a part of it (app.audit.parallel) starts at first_id after an
    event whose hash is prev_hash, and must reach last_id (a later event exists: none may be missing).
    """
    expected_id, count = first_id, 0
    hashed = stored = None
    for row in rows:
        if hashed is None:  # read fields by position, found once from the first row's keys
            keys = list(row._mapping.keys())
            hashed = itemgetter(*(keys.index(name) for name in HASHED_FIELDS))
            stored = itemgetter(*(keys.index(name) for name in ("id", "prev_hash", "hash", "occurred_at")))
        event_id, link, digest, occurred_at = stored(row)
        if event_id != expected_id:
            return ChainReport(count, prev_hash, expected_id, f"event {expected_id} is missing")
        if link != prev_hash:
            return ChainReport(count, prev_hash, event_id, "link to previous event broken")
        payload = dict(zip(HASHED_FIELDS, hashed(row), strict=True))
        payload["occurred_at"] = format_utc(occurred_at)
        if sha256_hex(prev_hash + _canonical(payload)) != digest:
            return ChainReport(count, prev_hash, event_id, "content does not match its hash")
        prev_hash = digest
        expected_id += 1
        count += 1
    if last_id is not None and expected_id <= last_id:
        return ChainReport(count, prev_hash, expected_id, f"event {expected_id} is missing")
    return ChainReport(count, prev_hash)


def verify_chain(connection: Connection) -> ChainReport:
    """Verify the whole audit trail as stored."""
    with closing(iter_events(connection)) as rows:
        return verify_rows(rows)
