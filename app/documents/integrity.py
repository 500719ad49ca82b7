"""Each stored document must still be the bytes it was stored as (21 CFR 11.10(a), (c)).

Three witnesses must agree for every row of `documents`: the bytes themselves, the row's
`sha256` (and `size`), and the `document.generated` audit event written in the same
transaction (its details name the SHA-256, its changes the digest of the content). A file
edited in the database, a hash "fixed" to match edited bytes, or a row inserted around the
application is named with the document id and the field that differs.
"""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import Connection, inspect, select

from app.audit.integrity import Mismatch
from app.audit.models import AuditEvent
from app.documents.models import Document

_GENERATED = "document.generated"


def _creation_events(connection: Connection) -> dict[str, str | None]:
    """Per document id: the SHA-256 its creation event recorded."""
    events = connection.execute(
        select(AuditEvent.entity_id, AuditEvent.details)
        .where(AuditEvent.action == _GENERATED, AuditEvent.entity_type == "Document")
        .order_by(AuditEvent.id)
    )
    recorded: dict[str, str | None] = {}
    for entity_id, details in events:
        recorded.setdefault(entity_id, json.loads(details).get("sha256"))
    return recorded


def check_documents(connection: Connection, batch: int = 20) -> list[Mismatch]:
    """Hash every stored document (streamed, a few rows at a time) and compare the witnesses."""
    if not inspect(connection).has_table(Document.__tablename__):
        return []
    recorded = _creation_events(connection)
    table = Document.__table__
    rows = connection.execute(
        select(table.c.id, table.c.sha256, table.c.size, table.c.content)
        .order_by(table.c.id)
        .execution_options(stream_results=True, yield_per=batch)
    )
    mismatches: list[Mismatch] = []
    for row in rows:
        key = str(row.id)
        content = bytes(row.content)
        actual = hashlib.sha256(content).hexdigest()
        if key not in recorded:
            mismatches.append(Mismatch("Document", key, "(row)", "a document.generated event", "no such event"))
        # What the bytes must hash to: the creation event's SHA-256 (else the row's own column).
        expected = recorded.get(key) or row.sha256
        if actual != expected:
            mismatches.append(Mismatch("Document", key, "content", f"sha256:{expected}", f"sha256:{actual}"))
        if row.sha256 != expected:
            mismatches.append(Mismatch("Document", key, "sha256", expected, row.sha256))
        if len(content) != row.size:
            mismatches.append(Mismatch("Document", key, "size", len(content), row.size))
    return mismatches
