"""Rendering documents: after a disposition (the hook), on demand (audit trail exports) and as a
regeneration with a reason. Each rendering is a new stored document; nothing is overwritten."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit import capture as audit
from app.audit.capture import Actor
from app.audit.services import EventFilter, export_csv
from app.auth.models import User
from app.auth.permissions import require_roles
from app.auth.roles import AUDITOR, QA
from app.batches.models import Lot
from app.common.db import after_commit, lock_row, unit_of_work
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
#: Rendered once the disposition has committed: the record pack as QA decided on it (URS-DOC-001).
#: The trail keeps growing after it (downloads, exports): later reports are on-demand exports.
DISPOSITION_KINDS = (DocumentKind.COA, DocumentKind.BATCH_RECORD, DocumentKind.AUDIT_TRAIL_PDF)
#: Who may export a lot's audit trail on demand.
EXPORTERS = (QA, AUDITOR)


def new_stamp(kind: DocumentKind, actor: Actor, reason: str | None = None,
              supersedes: Document | None = None) -> Stamp:  # fmt: skip
    return Stamp(str(uuid4()), kind, utcnow(), actor.name, reason, supersedes.public_id if supersedes else None)


def _render_and_store(session: Session, actor: Actor, lot: Lot, stamp: Stamp, data: dict[str, Any],
                      supersedes: Document | None = None) -> Document:  # fmt: skip
    content, signed = render_pdf(RENDERERS[stamp.kind].template, data)
    return store(session, actor, stamp, lot, content, signed=signed, supersedes=supersedes)


def pending_kinds(session: Session, lot: Lot) -> list[DocumentKind]:
    """The disposition documents a dispositioned lot does not have yet (none before a decision).
    A disposition document is one rendered without a reason: regenerations and on-demand
    exports always carry one."""
    if lot.dispositioned_at is None:
        return []
    rendered = set(session.scalars(select(Document.kind).where(Document.lot_id == lot.id, Document.reason.is_(None))))
    return [kind for kind in DISPOSITION_KINDS if kind not in rendered]


def lots_with_pending(session: Session) -> list[int]:
    """Ids of the dispositioned lots missing a disposition document (a rendering that failed)."""
    rendered = (select(func.count(func.distinct(Document.kind)))
                .where(Document.lot_id == Lot.id, Document.reason.is_(None), Document.kind.in_(DISPOSITION_KINDS))
                .scalar_subquery())  # fmt: skip
    query = select(Lot.id).where(Lot.dispositioned_at.is_not(None), rendered < len(DISPOSITION_KINDS))
    return list(session.scalars(query.order_by(Lot.id)))


def render_pending(session: Session, lot_id: int, actor: Actor) -> list[Document]:
    """Render and store the disposition documents the lot lacks: run after the decision committed.

    Three steps so that the slow one holds no lock: read every document's data in one
    transaction (all data is read before any document is stored, so none shows another's
    creation), render the PDFs outside any transaction, then store them in a short one that
    locks the lot and skips what a concurrent rendering stored meanwhile (never twice).
    """
    with unit_of_work(session):
        lot = session.get_one(Lot, lot_id)
        stamps = [new_stamp(kind, actor) for kind in pending_kinds(session, lot)]
        data = [(stamp, RENDERERS[stamp.kind].build(session, lot, stamp)) for stamp in stamps]
    rendered = [(stamp, render_pdf(RENDERERS[stamp.kind].template, values)) for stamp, values in data]
    stored = []
    with unit_of_work(session):
        lot = session.get_one(Lot, lot_id)
        lock_row(session, lot)
        still_pending = pending_kinds(session, lot)
        for stamp, (content, signed) in rendered:
            if stamp.kind in still_pending:
                stored.append(store(session, actor, stamp, lot, content, signed=signed))
    return stored


def after_disposition(session: Session, lot: Lot, qa: User) -> None:
    """The disposition hook: the CoA, executed batch record and audit trail report of the
    decision, rendered once it has committed (see `render_pending`)."""
    lot_id, actor = lot.id, Actor.of(qa)
    after_commit(session, lambda s: render_pending(s, lot_id, actor))


def request_pending(session: Session, qa: User, lot: Lot) -> None:
    """QA asks again for disposition documents whose rendering failed (rendered after commit)."""
    require_roles(qa, (QA,), "render a lot's documents")
    if not pending_kinds(session, lot):
        raise RuleViolation(f"Lot {lot.lot_number} has no disposition document waiting to be rendered.")
    after_disposition(session, lot, qa)


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
    actor = Actor.of(qa)
    stamp = new_stamp(document.kind, actor, reason.strip(), supersedes=document)
    data = RENDERERS[document.kind].build(session, lot, stamp)
    return _render_and_store(session, actor, lot, stamp, data, supersedes=document)


def export_audit_trail(session: Session, user: User, lot: Lot, fmt: str) -> Document:
    """The lot's audit trail as it is now, as a new stored document (so it can be verified).
    Rendered before anything is written: on PostgreSQL the audit chain's lock is taken by the
    first audit write, so it is not held while WeasyPrint works."""
    require_roles(user, EXPORTERS, "export a lot's audit trail")
    actor = Actor.of(user)
    if fmt == "csv":
        text = export_csv(session, EventFilter(lot_id=lot.id), actor)
        stamp = new_stamp(DocumentKind.AUDIT_TRAIL_CSV, actor, "On-demand audit trail export (CSV)")
        return store(session, actor, stamp, lot, text.encode("utf-8"), mime=CSV_MIME)
    if fmt != "pdf":
        raise RuleViolation(f"Unknown export format {fmt!r}.", status=400)
    stamp = new_stamp(DocumentKind.AUDIT_TRAIL_PDF, actor, "On-demand audit trail export (PDF)")
    data = audit_trail_data(session, lot, stamp)
    content, signed = render_pdf(RENDERERS[stamp.kind].template, data)
    audit.record(session, "audit.exported", actor, lot_id=lot.id, format="pdf", rows=data["count"],
                 document=stamp.public_id)  # fmt: skip
    return store(session, actor, stamp, lot, content, signed=signed)
