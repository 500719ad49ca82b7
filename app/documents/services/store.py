"""Storing rendered files (append-only) and reading them back: never re-rendered on download."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import func, select
from sqlalchemy.orm import Session, undefer

from app.audit import capture as audit
from app.audit.capture import Actor
from app.auth.models import User
from app.batches.models import Lot
from app.common.canonical import sha256_hex
from app.common.errors import NotFound
from app.documents.models import Document, DocumentKind
from app.documents.services.common import Stamp

PDF_MIME = "application/pdf"
CSV_MIME = "text/csv"
_FILE_KINDS = {
    DocumentKind.COA: ("CoA", "pdf"),
    DocumentKind.BATCH_RECORD: ("batch-record", "pdf"),
    DocumentKind.AUDIT_TRAIL_PDF: ("audit-trail", "pdf"),
    DocumentKind.AUDIT_TRAIL_CSV: ("audit-trail", "csv"),
}


def filename_for(lot: Lot, stamp: Stamp) -> str:
    name, ext = _FILE_KINDS[stamp.kind]
    return f"{lot.lot_number}_{name}_{stamp.generated_at:%Y%m%dT%H%M%SZ}_{stamp.public_id[:8]}.{ext}"


def store(
    session: Session, actor: Actor, stamp: Stamp, lot: Lot, content: bytes, *, mime: str = PDF_MIME,
    signed: bool = False, supersedes: Document | None = None,
) -> Document:  # fmt: skip
    """Register the bytes once; identical bytes already stored are that same document."""
    digest = sha256_hex(content)
    existing = find_by_sha256(session, digest)
    if existing is not None:
        return existing
    document = Document(
        public_id=stamp.public_id, lot_id=lot.id, kind=stamp.kind, filename=filename_for(lot, stamp), mime=mime,
        sha256=digest, size=len(content), content=content, created_at=stamp.generated_at, created_by_id=actor.id,
        created_by_name=stamp.generated_by, reason=stamp.reason, pades_signed=signed,
        supersedes_id=supersedes.id if supersedes else None,
    )  # fmt: skip
    with audit.action(session, "document.generated", actor, kind=stamp.kind.value, sha256=digest):
        session.add(document)
    return document


def find_by_sha256(session: Session, digest: str) -> Document | None:
    return session.scalar(select(Document).where(Document.sha256 == digest))


def find_by_public_id(session: Session, public_id: str) -> Document | None:
    return session.scalar(select(Document).where(Document.public_id == public_id))


def get_document(session: Session, document_id: int, with_content: bool = False) -> Document:
    query = select(Document).where(Document.id == document_id)
    document = session.scalar(query.options(undefer(Document.content)) if with_content else query)
    if document is None:
        raise NotFound("No such document.")
    return document


def lot_documents(session: Session, lot_id: int) -> list[Document]:
    """Every document of the lot, newest first."""
    return list(session.scalars(select(Document).where(Document.lot_id == lot_id).order_by(Document.id.desc())))


def successors(session: Session, lot_id: int) -> dict[int, Document]:
    """For each superseded document of the lot, the document that replaced it."""
    return {d.supersedes_id: d for d in lot_documents(session, lot_id) if d.supersedes_id is not None}


def latest(session: Session, lot_id: int, kind: DocumentKind) -> Document | None:
    return session.scalar(select(Document).where(Document.lot_id == lot_id, Document.kind == kind)
                          .order_by(Document.id.desc()).limit(1))  # fmt: skip


#: Bytes read from the database per piece of a download: a download holds this much in memory
#: whatever the document's size, and its first bytes leave before the last ones are read. The
#: first piece is all a client waits for: 1 MiB took twice a whole CoA's time to first byte on a
#: slow CPU (benchmarks, issue #10); 256 KiB holds a whole CoA or batch record in one piece.
DOWNLOAD_CHUNK = 1 << 18


def content_chunks(session: Session, document_id: int, size: int) -> Iterator[bytes]:
    """The stored bytes of a document, read piece by piece (rows are immutable: triggers).
    Each piece is its own short read, so a slow client holds no transaction (SQLite: no lock).
    Plain id and size, not the row: the body is sent after the request's session has ended."""
    for offset in range(0, size, DOWNLOAD_CHUNK):
        piece = select(func.substr(Document.content, offset + 1, DOWNLOAD_CHUNK)).where(Document.id == document_id)
        chunk = session.scalar(piece)
        session.rollback()
        yield chunk


def record_download(session: Session, user: User, document: Document) -> None:
    """Every download is an audit event naming exactly which bytes left the system."""
    audit.record(session, "document.downloaded", Actor.of(user), entity=document, kind=document.kind.value,
                 sha256=document.sha256, filename=document.filename)  # fmt: skip
