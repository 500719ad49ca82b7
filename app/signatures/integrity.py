"""Each stored signature must match the audit event written when it was signed."""

from __future__ import annotations

import json

from sqlalchemy import Connection, select

from app.audit.integrity import Mismatch
from app.audit.models import AuditEvent
from app.signatures.models import Signature

_SIGNED = tuple(f"signature.{meaning}" for meaning in
                ("performed", "verified", "reviewed", "approved", "released", "rejected"))  # fmt: skip


def check_signatures(connection: Connection) -> list[Mismatch]:
    """Compare every signature row with its signing event (signer, meaning, record, content hash)."""
    recorded = {}
    for event in connection.execute(select(AuditEvent).where(AuditEvent.action.in_(_SIGNED))):
        signature_id = json.loads(event.changes).get("signature", [None, None])[1]
        details = json.loads(event.details)
        recorded[str(signature_id)] = {
            "signer_id": event.actor_id, "meaning": details.get("meaning"),
            "entity_type": event.entity_type, "entity_id": event.entity_id,
            "content_hash": details.get("content_hash"),
        }  # fmt: skip
    mismatches = []
    for row in connection.execute(select(Signature)):
        expected = recorded.pop(str(row.id), None)
        if expected is None:
            mismatches.append(Mismatch("Signature", str(row.id), "(row)", "a signing event", "no signing event"))
            continue
        for field, value in expected.items():
            if getattr(row, field) != value:
                mismatches.append(Mismatch("Signature", str(row.id), field, value, getattr(row, field)))
    mismatches += [Mismatch("Signature", key, "(row)", "present", "missing") for key in recorded]
    return mismatches
