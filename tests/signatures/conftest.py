"""A test-only signable record, so the ceremony is tested apart from any domain module."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.audit import capture as audit
from app.audit.capture import Actor, Auditable
from app.auth.models import User
from app.auth.roles import ADMIN, AUDITOR, OPERATOR, QA, SUPERVISOR
from app.extensions import db as _db
from app.signatures.services import SignatureRule


class Note(Auditable, _db.Model):
    """A signable note: its text is the signed content; its performer may not verify it."""

    __tablename__ = "test_signable_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(200))
    #: Who performed the work the note records (excluded from verifying it).
    performer_id: Mapped[int | None]
    lot_id: Mapped[int | None]

    @property
    def audit_lot_id(self) -> int | None:
        return self.lot_id

    def signed_content(self) -> dict[str, Any]:
        return {"text": self.text, "performer_id": self.performer_id}

    def signature_rule(self, meaning: str) -> SignatureRule:
        if meaning == "verified":
            return SignatureRule(roles=frozenset({OPERATOR, SUPERVISOR}),
                                 excluded={self.performer_id: "The verifier is never the performer."})  # fmt: skip
        if meaning == "approved":
            return SignatureRule(roles=frozenset({QA}))
        if meaning == "reviewed":  # deliberately too broad: the ceremony itself keeps them out
            return SignatureRule(roles=frozenset({QA, ADMIN, AUDITOR}))
        return SignatureRule(roles=frozenset({OPERATOR, SUPERVISOR}))


@pytest.fixture
def make_note(db) -> Callable[..., Note]:  # type: ignore[no-untyped-def]
    """Create notes in a table that exists only inside the test's transaction."""
    Note.__table__.create(db.connection())

    def factory(text: str = "Seeded 2.0e6 cells in flask F-12", performer: User | None = None,
                lot_id: int | None = 7) -> Note:  # fmt: skip
        note = Note(text=text, performer_id=performer.id if performer else None, lot_id=lot_id)
        with audit.action(db, "note.created", Actor.system("tests")):
            db.add(note)
        db.commit()
        return note

    return factory
