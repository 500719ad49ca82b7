"""Lots, their step records and the entries made at each step (never overwritten)."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.audit.capture import Auditable
from app.auth.models import User
from app.auth.roles import OPERATOR, QA, SUPERVISOR
from app.common.models import str_enum
from app.common.timeutil import utcnow
from app.extensions import db
from app.mbr.models import TemplateVersion
from app.signatures.services import SignatureRule


class LotStatus(enum.StrEnum):
    IN_PROGRESS = "in_progress"
    EXECUTED = "executed"
    UNDER_REVIEW = "under_review"
    RELEASED = "released"
    REJECTED = "rejected"


#: Until QA's disposition a lot is quarantined, whatever its execution status.
QUARANTINED = frozenset({LotStatus.IN_PROGRESS, LotStatus.EXECUTED, LotStatus.UNDER_REVIEW})


class Lot(Auditable, db.Model):
    """A drug product lot executed against one template version for its whole life."""

    __tablename__ = "lots"
    __audit_workflow_fields__ = frozenset({"status", "executed_at", "dispositioned_at", "version_id"})

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_number: Mapped[str] = mapped_column(String(40), unique=True)
    product: Mapped[str] = mapped_column(String(80), index=True)
    template_version_id: Mapped[int] = mapped_column(ForeignKey("mbr_versions.id"))
    status: Mapped[LotStatus] = mapped_column(str_enum(LotStatus), default=LotStatus.IN_PROGRESS, index=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    started_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: Donor/cell bank chain (21 CFR 1271.290): the WCB vial lot this lot was started from.
    starting_material: Mapped[str] = mapped_column(String(120), default="")
    #: ISBT 128 Donation Identification Number (13 characters, without its check character),
    #: taken when the lot starts if the site has a FIN; a database trigger refuses any change.
    isbt128_din: Mapped[str | None] = mapped_column(String(13), unique=True, index=True)
    executed_at: Mapped[datetime | None]
    dispositioned_at: Mapped[datetime | None]
    #: Optimistic version: two QA users deciding at once cannot both win.
    version_id: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version_id}

    template_version: Mapped[TemplateVersion] = relationship(lazy="joined")
    #: Loaded when first used, not with every lot: lists of lots and the step pages need no steps
    #: or only their status (app.batches.services.overview.load_step); issue #10.
    steps: Mapped[list[StepRecord]] = relationship(back_populates="lot", order_by="StepRecord.seq")

    @property
    def audit_lot_id(self) -> int | None:
        return self.id

    @property
    def quarantined(self) -> bool:
        return self.status in QUARANTINED


class StepStatus(enum.StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    AWAITING_VERIFICATION = "awaiting_verification"
    COMPLETE = "complete"


class StepRecord(Auditable, db.Model):
    """The execution record of one template step in one lot."""

    __tablename__ = "step_records"
    __table_args__ = (UniqueConstraint("lot_id", "step_code"),)
    __audit_workflow_fields__ = frozenset(
        {"status", "started_at", "completed_at", "performed_by_id", "verified_by_id", "version_id"}
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"), index=True)
    step_code: Mapped[str] = mapped_column(String(60))
    #: Position in the template, for ordering and display.
    seq: Mapped[int]
    status: Mapped[StepStatus] = mapped_column(str_enum(StepStatus), default=StepStatus.PENDING)
    started_at: Mapped[datetime | None]
    #: When the performer signed; hold windows are measured between completions.
    completed_at: Mapped[datetime | None]
    performed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: Optimistic version carried by the step form: a stale save is refused, never merged.
    version_id: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version_id}

    lot: Mapped[Lot] = relationship(back_populates="steps")
    #: With the step records that are loaded, all their entries in one query: whoever reads a lot's
    #: steps and their entries (lot page, release review, batch record) never reads them step by step.
    entries: Mapped[list[Entry]] = relationship(
        back_populates="step_record", order_by="Entry.id", lazy="selectin"
    )

    @property
    def audit_lot_id(self) -> int | None:
        return self.lot_id

    @property
    def current_entries(self) -> list[Entry]:
        return [e for e in self.entries if e.superseded_by_id is None]

    def signed_content(self) -> dict[str, Any]:
        """What a performer or verifier signs: the lot, the step and its current entries."""
        return {
            "lot_id": self.lot_id,
            "step_code": self.step_code,
            "entries": sorted(
                ([e.input_name, e.value_text, e.unit or "", str(e.quantity or ""), e.comment or ""]
                 for e in self.current_entries),
            ),
        }  # fmt: skip

    def signature_rule(self, meaning: str) -> SignatureRule:
        roles = frozenset({OPERATOR, SUPERVISOR})
        if meaning == "verified" and self.performed_by_id is not None:
            return SignatureRule(roles, {self.performed_by_id: "The verifier is never the performer."})
        if meaning == "performed":
            return SignatureRule(roles)
        return SignatureRule(frozenset({QA}) if meaning == "reviewed" else frozenset())


class LimitStatus(enum.StrEnum):
    WITHIN = "within"
    ALERT = "alert"
    ACTION = "action"


class Entry(Auditable, db.Model):
    """One value recorded at a step. A correction is a new entry; the old one stays visible."""

    __tablename__ = "entries"
    __table_args__ = (Index("ix_entries_step_record_id_input_name", "step_record_id", "input_name"),)
    __audit_workflow_fields__ = frozenset({"superseded_by_id"})

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"), index=True)
    step_record_id: Mapped[int] = mapped_column(ForeignKey("step_records.id"))
    input_name: Mapped[str] = mapped_column(String(60))
    #: Exactly what was entered (or scanned), the record of truth.
    value_text: Mapped[str] = mapped_column(Text)
    #: The Decimal parsed from value_text, for numeric inputs.
    value_decimal: Mapped[Decimal | None]
    unit: Mapped[str | None] = mapped_column(String(30))
    #: Quantity used, for material inputs.
    quantity: Mapped[Decimal | None]
    material_lot_id: Mapped[int | None] = mapped_column(ForeignKey("material_lots.id"))
    equipment_id: Mapped[int | None] = mapped_column(ForeignKey("equipment.id"))
    limit_status: Mapped[LimitStatus] = mapped_column(str_enum(LimitStatus), default=LimitStatus.WITHIN)
    limit_message: Mapped[str | None] = mapped_column(Text)
    comment: Mapped[str | None] = mapped_column(Text)
    entered_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    entered_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The entry this one corrects, and the reason given (Annex 11 §9).
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("entries.id"))
    correction_reason: Mapped[str | None] = mapped_column(Text)
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("entries.id"))

    step_record: Mapped[StepRecord] = relationship(back_populates="entries", foreign_keys=[step_record_id])
    #: Only the step page shows it; a lazy many-to-one finds the user in the session first.
    entered_by: Mapped[User] = relationship()

    @property
    def audit_lot_id(self) -> int | None:
        return self.lot_id
