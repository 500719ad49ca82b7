"""Finding and exporting audit events (QA review, auditors)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from app.audit import capture as audit
from app.audit.capture import Actor
from app.audit.models import AuditEvent
from app.common.timeutil import format_utc, site_zone


@dataclass(frozen=True)
class EventFilter:
    """The filters of the audit trail viewer; empty fields do not filter."""

    lot_id: int | None = None
    actor_id: int | None = None
    entity_type: str | None = None
    entity_id: str | None = None
    action: str | None = None
    date_from: date | None = None
    date_to: date | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "")}


def _day_start(day: date) -> datetime:
    """Midnight at the site, so a date range means the site's calendar days."""
    return datetime.combine(day, time.min, tzinfo=site_zone())


def _filtered(flt: EventFilter) -> Select:
    query = select(AuditEvent)
    if flt.lot_id is not None:
        query = query.where(AuditEvent.lot_id == flt.lot_id)
    if flt.actor_id is not None:
        query = query.where(AuditEvent.actor_id == flt.actor_id)
    if flt.entity_type:
        query = query.where(AuditEvent.entity_type == flt.entity_type)
    if flt.entity_id:
        query = query.where(AuditEvent.entity_id == flt.entity_id)
    if flt.action:
        query = query.where(AuditEvent.action.startswith(flt.action, autoescape=True))
    if flt.date_from:
        query = query.where(AuditEvent.occurred_at >= _day_start(flt.date_from))
    if flt.date_to:
        query = query.where(AuditEvent.occurred_at < _day_start(flt.date_to + timedelta(days=1)))
    return query


@dataclass(frozen=True)
class Page:
    events: list[AuditEvent]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def search(session: Session, flt: EventFilter, page: int = 1, per_page: int = 50) -> Page:
    """One page of matching events, newest first."""
    page = max(1, page)
    query = _filtered(flt)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    events = session.scalars(
        query.order_by(AuditEvent.id.desc()).offset((page - 1) * per_page).limit(per_page)
    ).all()
    return Page(list(events), page, per_page, total)


CSV_COLUMNS = ("id", "occurred_at_utc", "actor_id", "actor_name", "action", "entity_type",
               "entity_id", "lot_id", "changes", "reason", "details", "prev_hash", "hash")  # fmt: skip


def export_csv(session: Session, flt: EventFilter, actor: Actor) -> str:
    """All matching events as CSV, oldest first; the export itself is an audit event."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    count = 0
    for event in session.scalars(_filtered(flt).order_by(AuditEvent.id).execution_options(yield_per=2000)):
        writer.writerow([event.id, format_utc(event.occurred_at), event.actor_id, event.actor_name,
                         event.action, event.entity_type, event.entity_id, event.lot_id,
                         event.changes, event.reason, event.details, event.prev_hash,
                         event.hash])  # fmt: skip
        count += 1
    audit.record(session, "audit.exported", actor, lot_id=flt.lot_id, format="csv", rows=count,
                 filters={k: str(v) for k, v in flt.as_dict().items()})  # fmt: skip
    return out.getvalue()
