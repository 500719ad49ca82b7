"""A deviation from the master batch record or a specification (21 CFR 211.100(b), 211.192)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.audit.capture import Auditable
from app.auth.roles import QA
from app.common.models import str_enum
from app.common.timeutil import utcnow
from app.extensions import db
from app.signatures.services import SignatureRule


class DeviationStatus(enum.StrEnum):
    OPEN = "open"
    INVESTIGATION = "investigation"
    CLOSED = "closed"


class Severity(enum.StrEnum):
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"


class Category(enum.StrEnum):
    LIMIT = "limit_excursion"
    HOLD_TIME = "hold_time"
    YIELD = "yield"
    MATERIAL = "material"
    EQUIPMENT = "equipment"
    OOS = "oos"
    PROCEDURAL = "procedural"
    OTHER = "other"


class Deviation(Auditable, db.Model):
    """Opened automatically by a rule or by anyone by hand; closed only by QA with a signature."""

    __tablename__ = "deviations"
    __audit_workflow_fields__ = frozenset({"status", "closed_at", "closed_by_id"})

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(30), unique=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"), index=True)
    step_record_id: Mapped[int | None] = mapped_column(ForeignKey("step_records.id"))
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("entries.id"))
    #: For OOS investigations: the QC result that failed (no FK: qc depends on deviations' lot).
    qc_result_id: Mapped[int | None]
    automatic: Mapped[bool] = mapped_column(default=False)
    category: Mapped[Category] = mapped_column(str_enum(Category))
    severity: Mapped[Severity] = mapped_column(str_enum(Severity))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[DeviationStatus] = mapped_column(str_enum(DeviationStatus), default=DeviationStatus.OPEN)
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    root_cause: Mapped[str | None] = mapped_column(Text)
    impact: Mapped[str | None] = mapped_column(Text)
    capa_ref: Mapped[str | None] = mapped_column(String(60))
    closed_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    @property
    def audit_lot_id(self) -> int | None:
        return self.lot_id

    @property
    def is_open(self) -> bool:
        return self.status != DeviationStatus.CLOSED

    def signed_content(self) -> dict[str, Any]:
        return {"number": self.number, "lot_id": self.lot_id, "category": self.category,
                "severity": self.severity, "description": self.description,
                "root_cause": self.root_cause, "impact": self.impact, "capa_ref": self.capa_ref}  # fmt: skip

    def signature_rule(self, meaning: str) -> SignatureRule:
        return SignatureRule(frozenset({QA}) if meaning == "approved" else frozenset())
