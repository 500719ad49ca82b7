"""QA's signed review of a lot's record and audit trail, and the lot's one disposition."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column, object_session

from app.audit.capture import Auditable
from app.audit.models import AuditEvent
from app.auth.roles import QA
from app.batches.models import StepRecord
from app.common.models import str_enum
from app.common.timeutil import utcnow
from app.extensions import db
from app.signatures.services import SignatureRule

#: Events on a lot after a review that do not change its record: the review's and the
#: disposition's own events, documents rendered from the record, refusals (a mistyped
#: password changes nothing), downloads and exports.
_OWN_ENTITIES = ("LotReview", "Disposition", "Document")
_OWN_ACTION_PREFIX = "release."
_NON_CHANGING_SUFFIXES = (".refused", ".downloaded", ".exported")


def lot_changes_after(session: Session, lot_id: int, event_id: int) -> list[AuditEvent]:
    """Audit events that changed the lot's record after event `event_id`, oldest first."""
    query = (
        select(AuditEvent)
        .where(AuditEvent.lot_id == lot_id, AuditEvent.id > event_id,
               or_(AuditEvent.entity_type.is_(None), AuditEvent.entity_type.not_in(_OWN_ENTITIES)),
               AuditEvent.action.not_like(f"{_OWN_ACTION_PREFIX}%"))
        .order_by(AuditEvent.id)
    )  # fmt: skip
    events = session.scalars(query).all()
    return [e for e in events if not e.action.endswith(_NON_CHANGING_SUFFIXES)]


def step_signers(session: Session, lot_id: int) -> dict[int, str]:
    """Everyone who performed or verified a step of the lot, with why they cannot dispose it."""
    excluded: dict[int, str] = {}
    rows = session.execute(
        select(StepRecord.step_code, StepRecord.performed_by_id, StepRecord.verified_by_id)
        .where(StepRecord.lot_id == lot_id).order_by(StepRecord.seq)
    ).all()  # fmt: skip
    for code, performer, verifier in rows:
        for user_id, role in ((performer, "performed"), (verifier, "verified")):
            if user_id is not None and user_id not in excluded:
                excluded[user_id] = (
                    f"You {role} step {code} of this lot: another QA person must "
                    "release or reject it (separation of duties)."
                )
    return excluded


class LotReview(Auditable, db.Model):
    """QA's review of the lot's record and audit trail through one event (Annex 11 §9).

    The signature covers the trail through `through_event_id` (bound by that event's chain
    hash) and the list of later changes, empty when signed: any later change to the lot's
    record makes the signed content differ, so the review signature shows invalid.
    """

    __tablename__ = "lot_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"), index=True)
    through_event_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    through_event_hash: Mapped[str] = mapped_column(String(64))
    reviewed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def audit_lot_id(self) -> int | None:
        return self.lot_id

    def changes_since(self) -> list[AuditEvent]:
        session = object_session(self)
        assert session is not None, "a review is read from a session"
        return lot_changes_after(session, self.lot_id, self.through_event_id)

    def signed_content(self) -> dict[str, Any]:
        return {"lot_id": self.lot_id, "through_event_id": self.through_event_id,
                "through_event_hash": self.through_event_hash,
                "changed_since": [e.id for e in self.changes_since()]}  # fmt: skip

    def signature_rule(self, meaning: str) -> SignatureRule:
        return SignatureRule(frozenset({QA}) if meaning == "reviewed" else frozenset())


class Decision(enum.StrEnum):
    RELEASED = "released"
    REJECTED = "rejected"


class Disposition(Auditable, db.Model):
    """QA's one decision on a lot; the unique lot_id lets the database refuse a second one."""

    __tablename__ = "dispositions"

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"), unique=True)
    decision: Mapped[Decision] = mapped_column(str_enum(Decision))
    comment: Mapped[str | None] = mapped_column(Text)
    #: The signed review the decision relied on (None for a rejection without one).
    review_id: Mapped[int | None] = mapped_column(ForeignKey("lot_reviews.id"))
    decided_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def audit_lot_id(self) -> int | None:
        return self.lot_id

    def signed_content(self) -> dict[str, Any]:
        return {"lot_id": self.lot_id, "decision": self.decision, "comment": self.comment,
                "review_id": self.review_id}  # fmt: skip

    def signature_rule(self, meaning: str) -> SignatureRule:
        if meaning != self.decision:
            return SignatureRule(frozenset())
        session = object_session(self)
        assert session is not None, "a disposition is signed within a session"
        return SignatureRule(frozenset({QA}), step_signers(session, self.lot_id))
