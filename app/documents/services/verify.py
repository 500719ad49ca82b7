"""Public verification: is this file (or SHA-256) a genuine, unaltered record, and of what?

A file cannot contain its own SHA-256, so the QR code in a PDF names the document's random
public id (/verify/doc/<uuid>); the page shows what that document is, and an uploaded file or
a pasted hash is compared with the stored SHA-256. Any change to a file, one byte included,
changes its SHA-256: such a file is reported as not a genuine record.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import IO

from sqlalchemy.orm import Session

from app.batches.models import Lot
from app.common.errors import RuleViolation
from app.documents.models import Document
from app.documents.services.store import find_by_public_id, find_by_sha256, successors

_SHA256 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1024 * 1024


class TooLarge(RuleViolation):
    status = 413


@dataclass(frozen=True)
class Verification:
    """The answer of the verification page."""

    sha256: str
    document: Document | None
    lot: Lot | None = None
    superseded_by: Document | None = None
    #: The document the QR code named, when the check started from it.
    expected: Document | None = None

    @property
    def genuine(self) -> bool:
        return self.document is not None and (self.expected is None or self.expected.id == self.document.id)


def normalise_sha256(text: str | None) -> str:
    digest = (text or "").strip().lower()
    if not _SHA256.fullmatch(digest):
        raise RuleViolation("A SHA-256 is 64 hexadecimal characters.", status=400)
    return digest


def sha256_of(stream: IO[bytes], max_bytes: int) -> str:
    """Hash an uploaded file in chunks, refusing files larger than `max_bytes`."""
    digest, size = hashlib.sha256(), 0
    while chunk := stream.read(_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise TooLarge(f"The file is larger than {max_bytes // (1024 * 1024)} MB; no record is that large.")
        digest.update(chunk)
    return digest.hexdigest()


def verify(session: Session, sha256: str, expected: Document | None = None) -> Verification:
    """Look the hash up among the stored documents."""
    digest = normalise_sha256(sha256)
    document = find_by_sha256(session, digest)
    if document is None:
        return Verification(digest, None, expected=expected)
    lot = session.get(Lot, document.lot_id)
    return Verification(digest, document, lot, successors(session, document.lot_id).get(document.id), expected)


def describe(session: Session, public_id: str) -> Verification | None:
    """What the document a QR code names is (without a file to compare yet)."""
    document = find_by_public_id(session, public_id)
    if document is None:
        return None
    lot = session.get(Lot, document.lot_id)
    return Verification(document.sha256, document, lot, successors(session, document.lot_id).get(document.id),
                        expected=document)  # fmt: skip
