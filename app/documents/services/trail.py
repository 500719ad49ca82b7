"""The data of a lot's audit trail report: every event of the lot, oldest first, with its
chain hashes, so a reader can re-verify the chain segment (21 CFR 11.10(e), Annex 11 §9)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.models import AuditEvent
from app.batches.models import Lot
from app.documents.services.common import Stamp, definition_summary, lot_summary, utc


def _event(e: AuditEvent) -> dict[str, Any]:
    return {"id": e.id, "occurred_at": utc(e.occurred_at), "actor_id": e.actor_id, "actor": e.actor_name,
            "action": e.action, "entity_type": e.entity_type, "entity_id": e.entity_id,
            "changes": json.loads(e.changes or "{}"), "reason": e.reason, "details": json.loads(e.details or "{}"),
            "prev_hash": e.prev_hash, "hash": e.hash}  # fmt: skip


def lot_events(session: Session, lot: Lot) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.lot_id == lot.id).order_by(AuditEvent.id)))


def audit_trail_data(session: Session, lot: Lot, stamp: Stamp) -> dict[str, Any]:
    """The lot's whole trail at this moment; `through` names the last event it contains."""
    events = [_event(e) for e in lot_events(session, lot)]
    last = events[-1] if events else None
    return {
        "document": stamp.as_dict(), "lot": lot_summary(lot), "template": definition_summary(lot.template_version),
        "through": {"id": last["id"], "hash": last["hash"]} if last else None,
        "count": len(events), "events": events,
    }  # fmt: skip


def change_lines(event: dict[str, Any]) -> list[str]:
    """An event's changes as printed: "field = value" for a new record, else "field: old → new"."""
    pairs = [(name, values) for name, values in event["changes"].items()
             if isinstance(values, list) and len(values) == 2]  # fmt: skip
    if pairs and all(values[0] is None for _, values in pairs):
        return [f"{name} = {_text(values[1])}" for name, values in pairs]
    return [f"{name}: {_text(values[0])} → {_text(values[1])}" for name, values in pairs]


def _text(value: Any) -> str:
    if value is None:
        return "—"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
