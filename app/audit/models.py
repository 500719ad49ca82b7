"""The audit_events table: append-only (database triggers) and hash-chained."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db


class AuditEvent(db.Model):
    """One immutable event; written only by app.audit.chain.append_events()."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_lot_id_id", "lot_id", "id"),
        Index("ix_audit_events_entity", "entity_type", "entity_id", "id"),
        Index("ix_audit_events_actor_id_id", "actor_id", "id"),
        Index("ix_audit_events_occurred_at", "occurred_at"),
        Index("ix_audit_events_action", "action"),
    )

    #: Gapless sequence assigned under the chain lock; part of the hash, so renumbering shows.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    occurred_at: Mapped[datetime]
    actor_id: Mapped[int | None]
    #: Snapshot "Full Name (username)": stays true even if the user's name changes later.
    actor_name: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(80))
    entity_type: Mapped[str | None] = mapped_column(String(80))
    entity_id: Mapped[str | None] = mapped_column(String(80))
    lot_id: Mapped[int | None]
    #: Canonical JSON {field: [old, new]}; the exact text is hashed.
    changes: Mapped[str] = mapped_column(Text, default="{}")
    reason: Mapped[str | None] = mapped_column(Text)
    #: Canonical JSON of context (IP address, refused rule, file name...).
    details: Mapped[str] = mapped_column(Text, default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
