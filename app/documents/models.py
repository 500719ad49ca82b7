"""Rendered documents: stored once, append-only, served byte for byte (21 CFR 11.10(b), (c))."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.audit.capture import Auditable
from app.common.models import str_enum
from app.common.timeutil import utcnow
from app.extensions import db


class DocumentKind(enum.StrEnum):
    COA = "coa"
    BATCH_RECORD = "batch_record"
    AUDIT_TRAIL_PDF = "audit_trail_pdf"
    AUDIT_TRAIL_CSV = "audit_trail_csv"

    @property
    def label(self) -> str:
        return KIND_LABELS[self]

    @property
    def title(self) -> str:
        """As printed on the document itself."""
        return KIND_TITLES.get(self, KIND_LABELS[self])


KIND_LABELS = {
    DocumentKind.COA: "Certificate of analysis",
    DocumentKind.BATCH_RECORD: "Executed batch record",
    DocumentKind.AUDIT_TRAIL_PDF: "Audit trail report (PDF)",
    DocumentKind.AUDIT_TRAIL_CSV: "Audit trail report (CSV)",
}
KIND_TITLES = {DocumentKind.AUDIT_TRAIL_PDF: "Audit trail report"}


class Document(Auditable, db.Model):
    """One rendered file. Never updated or deleted (database triggers): a regeneration is a
    new row naming the one it supersedes and why.

    `public_id` is a random UUID chosen before rendering: the file's QR code points at
    /verify/doc/<public_id> (a file cannot contain its own SHA-256).
    """

    __tablename__ = "documents"
    __table_args__ = (
        Index("ix_documents_lot_id_kind", "lot_id", "kind"),
        # A regeneration always says why (never an overwrite: a new row with a reason).
        CheckConstraint("supersedes_id IS NULL OR reason IS NOT NULL", name="regeneration_has_reason"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"))
    kind: Mapped[DocumentKind] = mapped_column(str_enum(DocumentKind))
    filename: Mapped[str] = mapped_column(String(200))
    mime: Mapped[str] = mapped_column(String(80))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int]
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: Snapshot "Full Name (username)" of who caused the rendering (or "system: ...").
    created_by_name: Mapped[str] = mapped_column(String(200))
    #: Why this document exists when it is not the one rendered at disposition.
    reason: Mapped[str | None] = mapped_column(Text)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    #: Whether a PAdES signature of the site's key is embedded (the key was configured).
    pades_signed: Mapped[bool] = mapped_column(default=False)

    @property
    def audit_lot_id(self) -> int | None:
        return self.lot_id

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]
