"""Signatures (append-only) and e-signature policy acceptances."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.audit.capture import Auditable
from app.common.timeutil import utcnow
from app.extensions import db

MEANINGS = ("performed", "verified", "reviewed", "approved", "released", "rejected")


class Signature(db.Model):
    """One signature; never updated or deleted (database triggers). Validity is derived."""

    __tablename__ = "signatures"
    __table_args__ = (
        Index("ix_signatures_entity", "entity_type", "entity_id"),
        Index("ix_signatures_lot_id", "lot_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    signer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: Printed name at the time of signing (11.50(a)(1)); later renames do not change it.
    signer_name: Mapped[str] = mapped_column(String(200))
    signer_username: Mapped[str] = mapped_column(String(64))
    meaning: Mapped[str] = mapped_column(String(20))
    signed_at: Mapped[datetime] = mapped_column(default=utcnow)
    entity_type: Mapped[str] = mapped_column(String(80))
    entity_id: Mapped[str] = mapped_column(String(80))
    lot_id: Mapped[int | None]
    #: SHA-256 of the canonical content signed; it binds the signature to exactly that data.
    content_hash: Mapped[str] = mapped_column(String(64))
    comment: Mapped[str | None] = mapped_column(Text)
    #: The e-signature policy version in force when signing.
    policy_version: Mapped[str] = mapped_column(String(20))


class PolicyAcceptance(Auditable, db.Model):
    """A user's acceptance of a version of the site's e-signature policy (11.10(j), 11.100(c))."""

    __tablename__ = "esig_policy_acceptances"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    version: Mapped[str] = mapped_column(String(20))
    #: SHA-256 of the exact policy text shown to the user.
    text_hash: Mapped[str] = mapped_column(String(64))
    accepted_at: Mapped[datetime] = mapped_column(default=utcnow)
