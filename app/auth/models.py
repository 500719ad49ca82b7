"""Users are never deleted, only deactivated; usernames are never reused (11.100(a))."""

from __future__ import annotations

import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.audit.capture import Auditable
from app.common.timeutil import utcnow
from app.extensions import db


def new_session_token() -> str:
    return secrets.token_hex(16)


class User(Auditable, UserMixin, db.Model):
    """An account; every change to it is in the audit trail (Annex 11 §12)."""

    __tablename__ = "users"
    __audit_workflow_fields__ = frozenset(
        {"password_hash", "password_changed_at", "must_change_password", "locked_until",
         "session_token"}
    )  # fmt: skip
    __audit_secret_fields__ = frozenset({"password_hash", "session_token"})
    # Explicit login events record these; a diff for each attempt would only add noise.
    __audit_ignored_fields__ = frozenset({"failed_attempts", "last_login_at"})

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Lower-case, unique forever: users are never deleted, so a name is never reassigned.
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    #: Comma-separated sorted role names; changes appear old -> new in the trail.
    roles: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    must_change_password: Mapped[bool] = mapped_column(default=True)
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    failed_attempts: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Rotated on password change, reset and deactivation: old sessions stop working at once.
    session_token: Mapped[str] = mapped_column(String(32), default=new_session_token)

    @property
    def role_set(self) -> frozenset[str]:
        return frozenset(r for r in self.roles.split(",") if r)

    def has_role(self, *roles: str) -> bool:
        return bool(self.role_set & set(roles))

    @property
    def display_name(self) -> str:
        return f"{self.full_name} ({self.username})"

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now

    # Flask-Login: the cookie names the user and the session token it was issued for.
    def get_id(self) -> str:
        return f"{self.id}.{self.session_token}"

    @property
    def is_active(self) -> bool:
        return self.active
