"""Helpers shared by the versioned-definition tests (master batch records, QC specifications)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit.models import AuditEvent
from app.mbr import services
from app.mbr.models import TemplateVersion
from app.mbr.schema import parse_template
from app.signatures.services import Credentials
from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
SHORT = ROOT / "tests/data/templates/SHORT-TEST.v1.yaml"
SHIPPED_TEMPLATES = sorted((ROOT / "batch_templates").glob("*.yaml"))
SHIPPED_SPECS = sorted((ROOT / "qc_specs").glob("*.yaml"))


def creds(user: Any, password: str = PASSWORD) -> Credentials:
    """What the user types into the signing dialog (first signature: username and policy too)."""
    return Credentials(password, user.username, username_required=True, accept_policy=True)


def load_file(db: Session, path: Path, author: Any = None, model: type = TemplateVersion,
              parse: Any = parse_template, text: str | None = None, name: str | None = None) -> tuple:
    """Load one file (or replacement text under its name) and commit; returns (row, outcome)."""
    result = services.load_text(db, model, parse, path.read_text() if text is None else text,
                                name or path.name, author)
    db.commit()
    return result


def effective(db: Session, qa: Any, row: Any, at: Any = None, reason: str = "CC-2026-001") -> Any:
    """Approve (if Draft) and make effective, as `qa`; commit."""
    if row.status.value == "draft":
        services.approve(db, qa, row, creds(qa))
    services.make_effective(db, qa, row, at, reason)
    db.commit()
    return row


def count(db: Session, model: type, **where: Any) -> int:
    query = select(func.count()).select_from(model)
    for key, value in where.items():
        query = query.where(getattr(model, key) == value)
    return db.scalar(query)


def events(db: Session, action: str) -> list[AuditEvent]:
    return list(db.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def details(event: AuditEvent) -> dict[str, Any]:
    return json.loads(event.details)
