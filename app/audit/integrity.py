"""Replay the audit trail and compare it with the tables: a direct database edit shows.

Every insert and change of an auditable model wrote its values to the hash-chained trail.
Replaying the trail per record gives what each row must hold now; a row that differs was
changed around the application (a DBA, a restored file, a bug), and is named with the field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from sqlalchemy import Connection, String, any_, bindparam, cast, func, inspect, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects.postgresql import ARRAY

from app.audit.capture import Auditable, plain_value
from app.audit.models import AuditEvent


@dataclass(frozen=True)
class Mismatch:
    """A record whose stored value is not what its audit trail says."""

    entity_type: str
    entity_id: str
    field: str
    expected: Any
    found: Any

    def __str__(self) -> str:
        return (f"{self.entity_type} {self.entity_id}: {self.field} is {self.found!r} in the table "
                f"but {self.expected!r} in the audit trail")  # fmt: skip


def auditable_models(base: Any) -> list[type]:
    """Every mapped class holding GMP data, in a stable order."""
    classes = [m.class_ for m in base.registry.mappers if issubclass(m.class_, Auditable)]
    return sorted(classes, key=lambda c: c.__tablename__)


def _compared_fields(model: type) -> list[str]:
    mapper = inspect(model)
    skipped = set(model.__audit_ignored_fields__) | set(model.__audit_secret_fields__)
    if mapper.version_id_col is not None:
        skipped.add(mapper.get_property_by_column(mapper.version_id_col).key)
    return [p.key for p in mapper.column_attrs if p.key not in skipped]


def _replayed(connection: Connection, entity_type: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    """Field values per the trail for some records of a type (one indexed query)."""
    if connection.dialect.name == "postgresql":  # one array parameter: 2,000 placeholders cost the client more
        named = AuditEvent.entity_id == any_(bindparam("ids", ids, type_=ARRAY(String)))
    else:
        named = AuditEvent.entity_id.in_(ids)
    events = connection.execute(
        select(AuditEvent.entity_id, AuditEvent.changes)
        .where(AuditEvent.entity_type == entity_type, named, AuditEvent.changes != "{}")
        .order_by(AuditEvent.id)
    )  # fmt: skip
    states: dict[str, dict[str, Any]] = {}
    for entity_id, changes in events:
        state = states.setdefault(entity_id, {})
        for field, (_old, new) in json.loads(changes).items():
            state[field] = new
    return states


def _compare(model: type, fields: list[str], key: str, values: dict[str, Any],
             state: dict[str, Any] | None) -> list[Mismatch]:  # fmt: skip
    name = model.__name__
    if state is None:
        return [Mismatch(name, key, "(row)", "absent", "present without audit event")]
    return [Mismatch(name, key, f, state.get(f), values[f]) for f in fields if values[f] != state.get(f)]


def _deleted_rows(connection: Connection, model: type) -> list[Mismatch]:
    """Records the trail created whose row is gone (found by the database, not in memory).

    Only events that wrote values count: an event without changes (a refused signature) may
    name a record whose creation was rolled back with the refused action, and never existed.
    """
    table = inspect(model).local_table
    orphans = connection.execute(
        select(AuditEvent.entity_id).distinct()
        .outerjoin(table, cast(table.c.id, String) == AuditEvent.entity_id)
        .where(AuditEvent.entity_type == model.__name__, AuditEvent.changes != "{}", table.c.id.is_(None))
    ).scalars()  # fmt: skip
    return [Mismatch(model.__name__, entity_id, "(row)", "present", "missing") for entity_id in orphans]


#: Values plain_value returns as they are (compared fields are never secret): most of a row's
#: values skip the call, which was the largest cost of the replay (benchmarks, issue #10).
_AS_IS = frozenset((str, int, bool, type(None)))


def _plain_row(model: type, columns: dict[str, str], values: Any) -> dict[str, Any]:
    """A row's compared fields as the trail writes them (plain_value)."""
    return {f: v if type(v := values[c]) in _AS_IS else plain_value(model, f, v) for f, c in columns.items()}


def check_model(connection: Connection, model: type, batch: int = 2000, first_id: int | None = None,
                last_id: int | None = None, deleted: bool = True) -> list[Mismatch]:  # fmt: skip
    """Compare every row of one auditable table (or ids first_id..last_id) with the replay of its
    audit events, in batches; then (`deleted`) name the records the trail has and the table lost."""
    mapper = inspect(model)
    fields = _compared_fields(model)
    columns = {f: mapper.get_property(f).columns[0].name for f in fields}
    table = mapper.local_table
    query = select(table).order_by(table.c.id).execution_options(stream_results=True, yield_per=batch)
    if first_id is not None:
        query = query.where(table.c.id >= first_id)
    if last_id is not None:
        query = query.where(table.c.id <= last_id)
    mismatches: list[Mismatch] = []
    for chunk in connection.execute(query).partitions():
        found = {str(row.id): _plain_row(model, columns, row._mapping) for row in chunk}
        states = _replayed(connection, model.__name__, list(found))
        for key, values in found.items():
            mismatches += _compare(model, fields, key, values, states.get(key))
    return mismatches + (_deleted_rows(connection, model) if deleted else [])


def check_rows(connection: Connection, model: type, first_id: int | None, last_id: int | None) -> list[Mismatch]:
    """check_model for the rows with ids first_id..last_id (None: unbounded), without deleted rows."""
    return check_model(connection, model, first_id=first_id, last_id=last_id, deleted=False)


def check_deleted(connection: Connection, model: type) -> list[Mismatch]:
    """The records of one type that the trail created and the table no longer holds."""
    return _deleted_rows(connection, model)


def replay_tasks(connection: Connection, base: Any, rows_per_task: int) -> list[tuple[Any, tuple[Any, ...]]]:
    """check_all as independent (function, arguments) pieces, each called with a connection first;
    their results joined in this order are check_all's. A table is cut into id ranges of about
    rows_per_task rows, the first and last open-ended so rows added meanwhile are still read."""
    tasks: list[tuple[Any, tuple[Any, ...]]] = []
    existing = set(sa_inspect(connection).get_table_names())
    for model in auditable_models(base):
        if model.__tablename__ not in existing:
            continue
        table = inspect(model).local_table
        last = connection.execute(select(func.max(table.c.id))).scalar() or 0
        parts = max(1, -(-last // rows_per_task))
        cuts = [1 + last * i // parts for i in range(1, parts)]
        tasks += [(check_rows, (model, lo, None if hi is None else hi - 1)) for lo, hi in pairwise([None, *cuts, None])]
        tasks.append((check_deleted, (model,)))
    return tasks


def check_all(connection: Connection, base: Any) -> list[Mismatch]:
    """Check every auditable table; an empty list means the tables are what the trail says."""
    mismatches: list[Mismatch] = []
    existing = set(sa_inspect(connection).get_table_names())
    for model in auditable_models(base):
        if model.__tablename__ in existing:  # a model without a table here has no records to check
            mismatches.extend(check_model(connection, model))
    return mismatches
