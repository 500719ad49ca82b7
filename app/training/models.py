"""A user's training on a master batch record (by template code), with expiry."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.audit.capture import Auditable
from app.common.timeutil import utcnow
from app.extensions import db


class TrainingRecord(Auditable, db.Model):
    """Evidence that a user was trained on a procedure, valid until `expires_on`."""

    __tablename__ = "training_records"
    __audit_workflow_fields__ = frozenset({"revoked_at"})

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    template_code: Mapped[str] = mapped_column(String(40))
    trained_on: Mapped[date]
    expires_on: Mapped[date]
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]

    def expired_on(self, today: date) -> bool:
        """`expires_on` is the last day the training counts; the site's next day it has expired."""
        return today > self.expires_on

    def valid_on(self, today: date) -> bool:
        return self.revoked_at is None and self.trained_on <= today and not self.expired_on(today)
