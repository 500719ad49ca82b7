"""Capture: every flush of an auditable model becomes audit events, or the flush is refused.

Services name the action (and the reason for a change) with `action(...)`; a listener on every
SQLAlchemy Session writes the old -> new diff of each auditable object under that action, in
the same transaction. Forgetting the action, or the reason for changing a saved record, is
impossible: the flush fails.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, attributes

from app.audit.chain import append_events
from app.common.canonical import canonical_json
from app.common.errors import RuleViolation
from app.common.timeutil import format_utc, utcnow

_ACTION_KEY = "cellbatch.audit_action"


class UnauditedChange(RuntimeError):
    """A programming error: GMP data was changed outside an audit action."""


class ReasonRequired(RuleViolation):
    """A saved GMP record was changed or deleted without a reason (Annex 11 §9)."""

    status = 400


@dataclass(frozen=True)
class Actor:
    """Who acts: a user, or the system itself for CLI loads (named, never anonymous)."""

    id: int | None
    name: str

    @classmethod
    def of(cls, user: Any) -> Actor:
        return cls(user.id, f"{user.full_name} ({user.username})")

    @classmethod
    def system(cls, what: str) -> Actor:
        return cls(None, f"system: {what}")


@dataclass
class ActionContext:
    name: str
    actor: Actor
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


class Auditable:
    """Mixin: a model holding GMP data. Every insert, update and delete is audited."""

    #: Fields a workflow changes without a reason (the action name says why).
    __audit_workflow_fields__: ClassVar[frozenset[str]] = frozenset()
    #: Fields whose value is never written to the trail (only that they changed).
    __audit_secret_fields__: ClassVar[frozenset[str]] = frozenset()
    #: Fields not recorded at all because an explicit event records them (e.g. login counters).
    __audit_ignored_fields__: ClassVar[frozenset[str]] = frozenset()
    #: GMP records are never deleted; set True only for link rows that may be removed.
    __audit_deletable__: ClassVar[bool] = False

    @property
    def audit_lot_id(self) -> int | None:
        """The lot this record belongs to, so the lot's trail finds it."""
        return None

    @property
    def audit_entity_type(self) -> str:
        return type(self).__name__


def current_action(session: Session) -> ActionContext | None:
    """The action the session is currently performing, if any."""
    return session.info.get(_ACTION_KEY)


@contextmanager
def action(
    session: Session, name: str, actor: Actor, reason: str | None = None, **details: Any
) -> Iterator[ActionContext]:
    """Attribute every change flushed inside to this action, actor and reason."""
    previous = session.info.get(_ACTION_KEY)
    context = ActionContext(name, actor, (reason or "").strip() or None, details)
    session.info[_ACTION_KEY] = context
    try:
        yield context
        session.flush()
    finally:
        session.info[_ACTION_KEY] = previous


def record(
    session: Session,
    name: str,
    actor: Actor,
    *,
    entity: Any = None,
    entity_ref: tuple[str, str] | None = None,
    lot_id: int | None = None,
    reason: str | None = None,
    changes: dict[str, Any] | None = None,
    **details: Any,
) -> int:
    """Append an explicit event (login, signature, download, refusal) in this transaction."""
    session.flush()
    if entity is not None:
        # Views may pass Flask-Login's current_user proxy; audit the real object.
        entity = getattr(entity, "_get_current_object", lambda: entity)()
        entity_ref = (entity.audit_entity_type, _identity(entity))
        lot_id = lot_id if lot_id is not None else entity.audit_lot_id
    row = _row(name, actor, entity_ref, lot_id, changes or {}, reason, details)
    return append_events(session.connection(), [row])[0]


def _row(
    name: str,
    actor: Actor,
    entity_ref: tuple[str, str] | None,
    lot_id: int | None,
    changes: dict[str, Any],
    reason: str | None,
    details: dict[str, Any],
) -> dict[str, Any]:
    entity_type, entity_id = entity_ref or (None, None)
    return {
        "occurred_at": utcnow(),
        "actor_id": actor.id,
        "actor_name": actor.name,
        "action": name,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "lot_id": lot_id,
        "changes": canonical_json(changes),
        "reason": reason,
        "details": canonical_json(details),
    }


def _identity(obj: Any) -> str:
    # Inside after_flush a new object has its primary key but no identity key yet.
    key = inspect(type(obj)).primary_key_from_instance(obj)
    if any(part is None for part in key):
        raise UnauditedChange(f"{type(obj).__name__} has no primary key yet")
    return ":".join(str(part) for part in key)


def plain_value(model: Any, key: str, value: Any) -> Any:
    """A JSON-safe, exact representation of a column value for the trail (also for replay)."""
    if key in model.__audit_secret_fields__ and value is not None:
        return "(secret changed)"
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return format_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, bytes):
        return "sha256:" + hashlib.sha256(value).hexdigest()
    return value


def _columns(obj: Any) -> list[str]:
    return [
        prop.key
        for prop in inspect(type(obj)).column_attrs
        if prop.key not in obj.__audit_ignored_fields__
    ]


def _diff(obj: Any) -> dict[str, list[Any]]:
    """Old -> new of every changed column of a persistent object."""
    changes = {}
    for key in _columns(obj):
        history = attributes.get_history(obj, key, passive=attributes.PASSIVE_NO_INITIALIZE)
        if not history.added and not history.deleted:
            continue
        old = history.deleted[0] if history.deleted else None
        new = history.added[0] if history.added else None
        if old != new:
            changes[key] = [plain_value(obj, key, old), plain_value(obj, key, new)]
    return changes


def _snapshot(obj: Any, new: bool) -> dict[str, list[Any]]:
    """All set values of an inserted (old None) or deleted (new None) object."""
    state = inspect(obj).dict
    values = {key: plain_value(obj, key, state[key]) for key in _columns(obj) if key in state}
    return {k: ([None, v] if new else [v, None]) for k, v in values.items() if v is not None}


@event.listens_for(Session, "before_flush")
def _refuse_unaudited(session: Session, _context: Any, _instances: Any) -> None:
    """Refuse a flush that changes GMP data outside an action, or without a due reason."""
    context = current_action(session)
    touched = [o for o in session.new if isinstance(o, Auditable)]
    touched += [o for o in session.deleted if isinstance(o, Auditable)]
    changed = [o for o in session.dirty if isinstance(o, Auditable) and _diff(o)]
    if (touched or changed) and context is None:
        names = sorted({type(o).__name__ for o in touched + changed})
        raise UnauditedChange(f"change to {', '.join(names)} outside an audit action")
    for obj in session.deleted:
        if isinstance(obj, Auditable) and not obj.__audit_deletable__:
            raise RuleViolation(f"{type(obj).__name__} records are never deleted")
    needs_reason = [o for o in changed if set(_diff(o)) - o.__audit_workflow_fields__]
    needs_reason += [o for o in session.deleted if isinstance(o, Auditable)]
    if needs_reason and context is not None and context.reason is None:
        raise ReasonRequired(
            "A reason for the change is required: "
            + ", ".join(sorted({type(o).__name__ for o in needs_reason}))
            + " was saved before."
        )


@event.listens_for(Session, "after_flush")
def _write_events(session: Session, _context: Any) -> None:
    """Write one event per inserted, updated or deleted auditable object, in flush order."""
    context = current_action(session)
    if context is None:
        return
    rows = []
    for objects, kind in ((session.new, "new"), (session.dirty, "dirty"), (session.deleted, "del")):
        for obj in objects:
            if not isinstance(obj, Auditable):
                continue
            changes = _diff(obj) if kind == "dirty" else _snapshot(obj, kind == "new")
            if kind == "dirty" and not changes:
                continue
            verb = {"new": "created", "dirty": "changed", "del": "deleted"}[kind]
            details = {**context.details, "change": verb}
            ref = (obj.audit_entity_type, _identity(obj))
            rows.append(
                _row(context.name, context.actor, ref, obj.audit_lot_id, changes,
                     context.reason, details)
            )  # fmt: skip
    append_events(session.connection(), rows)


def _auditable_tables() -> list[Any]:
    """The tables of every mapped Auditable class."""
    tables, classes = [], list(Auditable.__subclasses__())
    while classes:
        cls = classes.pop()
        classes.extend(cls.__subclasses__())
        if getattr(cls, "__table__", None) is not None:
            tables.append(cls.__table__)
    return tables


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_writes(state: Any) -> None:
    """Bulk INSERT/UPDATE/DELETE through the session would skip the flush listener: refuse them
    on auditable models, whether the statement names the model or only its table."""
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    for mapper in state.all_mappers:
        if issubclass(mapper.class_, Auditable):
            raise UnauditedChange(f"bulk write to {mapper.class_.__name__} bypasses the audit")
    table = getattr(state.statement, "table", None)
    if table is not None and any(table is t for t in _auditable_tables()):
        raise UnauditedChange(f"bulk write to table {table.name} bypasses the audit")


@event.listens_for(Auditable, "mapper_configured", propagate=True)
def _load_old_values(mapper: Any, class_: type) -> None:
    """Load the stored value before a column is overwritten, so the trail shows old -> new.

    Without this, setting an attribute that a commit had expired records None as the old
    value (SQLAlchemy does not load what it is about to replace) and an unchanged value as
    a change.
    """
    for prop in mapper.column_attrs:
        event.listen(getattr(class_, prop.key), "set", _keep_history, active_history=True)


def _keep_history(_target: Any, _value: Any, _old: Any, _initiator: Any) -> None:
    """No-op: registering it with active_history=True is what loads the old value."""
