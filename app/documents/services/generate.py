"""Rendering documents: at disposition (the hook), on demand (audit trail exports) and as a
regeneration with a reason. Each rendering is a new stored document; nothing is overwritten."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

from sqlalchemy.orm import Session

from app.audit import capture as audit
from app.audit.capture import Actor
from app.audit.services import EventFilter, export_csv
from app.auth.models import User
from app.auth.permissions import require_roles
from app.auth.roles import AUDITOR, QA
from app.batches.models import Lot
from app.common.errors import RuleViolation
from app.common.timeutil import utcnow
from app.documents.models import Document, DocumentKind
from app.documents.services.batch_record import batch_record_data
from app.documents.services.coa import coa_data
from app.documents.services.common import Stamp
from app.documents.services.pdf import render_pdf
from app.documents.services.store import CSV_MIME, latest, store
from app.documents.services.trail import audit_trail_data


@dataclass(frozen=True)
class Renderer:
    build: Callable[[Session, Lot, Stamp], dict[str, Any]]
    template: str


RENDERERS = {
    DocumentKind.COA: Renderer(coa_data, "documents/coa.html"),
    DocumentKind.BATCH_RECORD: Renderer(batch_record_data, "documents/batch_record.html"),
    DocumentKind.AUDIT_TRAIL_PDF: Renderer(audit_trail_data, "documents/audit_trail.html"),
}
#: Rendered in the disposition's transaction: the record pack as QA decided on it (URS-DOC-001).
#: The trail keeps growing after it (downloads, exports): later reports are on-demand exports.
DISPOSITION_KINDS = (DocumentKind.COA, DocumentKind.BATCH_RECORD, DocumentKind.AUDIT_TRAIL_PDF)
#: Who may export a lot's audit trail on demand.
EXPORTERS = (QA, AUDITOR)


def new_stamp(kind: DocumentKind, user: User, reason: str | None = None, supersedes: Document | None = None) -> Stamp:
    return Stamp(str(uuid4()), kind, utcnow(), Actor.of(user).name, reason,
                 supersedes.public_id if supersedes else None)  # fmt: skip


def _render_and_store(session: Session, user: User, lot: Lot, stamp: Stamp, data: dict[str, Any],
                      supersedes: Document | None = None) -> Document:  # fmt: skip
    content, signed = render_pdf(RENDERERS[stamp.kind].template, data)
    return store(session, user, stamp, lot, content, signed=signed, supersedes=supersedes)


def render_lot_documents(session: Session, lot: Lot, user: User) -> None:
    """The disposition hook: CoA, executed batch record and audit trail report, in the
    decision's transaction (a failure rolls the decision back). All data is read before the
    first document is stored, so no document shows another one's creation."""
    stamps = [new_stamp(kind, user) for kind in DISPOSITION_KINDS]
    data = [(stamp, RENDERERS[stamp.kind].build(session, lot, stamp)) for stamp in stamps]
    for stamp, values in data:
        _render_and_store(session, user, lot, stamp, values)


def regenerate(session: Session, qa: User, document: Document, reason: str | None) -> Document:
    """A new rendering of a disposition document, naming the one it supersedes and why."""
    require_roles(qa, (QA,), "regenerate a document")
    if not (reason or "").strip():
        raise RuleViolation("A regeneration needs a reason.", status=400)
    if document.kind not in DISPOSITION_KINDS:
        raise RuleViolation("An audit trail report is not regenerated: export a new one.", status=400)
    newest = latest(session, document.lot_id, document.kind)
    if newest is not None and newest.id != document.id:
        raise RuleViolation(f"This document was already superseded (document {newest.public_id}); "
                            "regenerate the latest one.")  # fmt: skip
    lot = session.get_one(Lot, document.lot_id)
    stamp = new_stamp(document.kind, qa, reason.strip(), supersedes=document)
    data = RENDERERS[document.kind].build(session, lot, stamp)
    return _render_and_store(session, qa, lot, stamp, data, supersedes=document)


def export_audit_trail(session: Session, user: User, lot: Lot, fmt: str) -> Document:
    """The lot's audit trail as it is now, as a new stored document (so it can be verified)."""
    require_roles(user, EXPORTERS, "export a lot's audit trail")
    if fmt == "csv":
        text = export_csv(session, EventFilter(lot_id=lot.id), Actor.of(user))
        stamp = new_stamp(DocumentKind.AUDIT_TRAIL_CSV, user, "On-demand audit trail export (CSV)")
        return store(session, user, stamp, lot, text.encode("utf-8"), mime=CSV_MIME)
    if fmt != "pdf":
        raise RuleViolation(f"Unknown export format {fmt!r}.", status=400)
    stamp = new_stamp(DocumentKind.AUDIT_TRAIL_PDF, user, "On-demand audit trail export (PDF)")
    data = audit_trail_data(session, lot, stamp)
    audit.record(session, "audit.exported", Actor.of(user), lot_id=lot.id, format="pdf", rows=data["count"],
                 document=stamp.public_id)  # fmt: skip
    return _render_and_store(session, user, lot, stamp, data)
