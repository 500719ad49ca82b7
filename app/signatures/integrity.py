"""Each stored signature must match the audit event written when it was signed."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import Connection, select

from app.audit.integrity import Mismatch
from app.audit.models import AuditEvent
from app.signatures.models import Signature

#: A signature row and its event are written in one transaction, microseconds apart; a signing
#: time further than this from its event's time was edited (the event's time is hash-chained).
SIGNED_AT_TOLERANCE = timedelta(seconds=5)
_SIGNED = tuple(f"signature.{meaning}" for meaning in
                ("performed", "verified", "reviewed", "approved", "released", "rejected"))  # fmt: skip


def check_signatures(connection: Connection) -> list[Mismatch]:
    """Compare every signature row with its signing event: signer (id and printed name), meaning,
    record, lot, content hash, comment and, within SIGNED_AT_TOLERANCE, the signing time."""
    recorded = {}
    for event in connection.execute(select(AuditEvent).where(AuditEvent.action.in_(_SIGNED))):
        signature_id = json.loads(event.changes).get("signature", [None, None])[1]
        details = json.loads(event.details)
        recorded[str(signature_id)] = {
            "signer_id": event.actor_id, "meaning": details.get("meaning"),
            "entity_type": event.entity_type, "entity_id": event.entity_id,
            "content_hash": details.get("content_hash"), "comment": details.get("comment"),
            "lot_id": event.lot_id, "printed_name": event.actor_name, "signed_at": event.occurred_at,
        }  # fmt: skip
    mismatches = []
    for row in connection.execute(select(Signature)):
        expected = recorded.pop(str(row.id), None)
        if expected is None:
            mismatches.append(Mismatch("Signature", str(row.id), "(row)", "a signing event", "no signing event"))
            continue
        signed_at = expected.pop("signed_at")
        found = {field: getattr(row, field) for field in expected if field != "printed_name"}
        found["printed_name"] = f"{row.signer_name} ({row.signer_username})"  # as Actor.of() names the signer
        for field, value in expected.items():
            if found[field] != value:
                mismatches.append(Mismatch("Signature", str(row.id), field, value, found[field]))
        if abs(row.signed_at - signed_at) > SIGNED_AT_TOLERANCE:
            mismatches.append(Mismatch("Signature", str(row.id), "signed_at", signed_at, row.signed_at))
    mismatches += [Mismatch("Signature", key, "(row)", "present", "missing") for key in recorded]
    return mismatches
