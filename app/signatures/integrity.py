"""Each stored signature must match the audit event written when it was signed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, literal_column, select

from app.audit.integrity import Mismatch
from app.audit.models import AuditEvent
from app.signatures.models import Signature

#: A signature row and its event are written in one transaction, microseconds apart; a signing
#: time further than this from its event's time was edited (the event's time is hash-chained).
SIGNED_AT_TOLERANCE = timedelta(seconds=5)
_BATCH = 5000
_SIGNED = tuple(f"signature.{meaning}" for meaning in
                ("performed", "verified", "reviewed", "approved", "released", "rejected"))  # fmt: skip


def _signature_id_of_event(dialect: str):  # type: ignore[no-untyped-def]
    """SQL for the signature id an event's changes name ({"signature": [null, ID]}), NULL if none."""
    if dialect == "postgresql":
        value = "((audit_events.changes::jsonb -> 'signature') ->> 1)"
        return literal_column(f"CASE WHEN {value} ~ '^[0-9]+$' THEN {value}::bigint END")
    return literal_column("json_extract(audit_events.changes, '$.signature[1]')")


def _signing_events(connection: Connection) -> Iterator[tuple[int | None, dict[str, Any]]]:
    """Every signing event as (signature id, what the row must hold), in signature-id order, streamed."""
    signature_id = _signature_id_of_event(connection.dialect.name).label("signature_id")
    query = (
        select(signature_id, AuditEvent.actor_id, AuditEvent.actor_name, AuditEvent.entity_type,
               AuditEvent.entity_id, AuditEvent.lot_id, AuditEvent.occurred_at, AuditEvent.details)
        .where(AuditEvent.action.in_(_SIGNED))
        .order_by(signature_id, AuditEvent.id)
        .execution_options(stream_results=True, yield_per=_BATCH)
    )  # fmt: skip
    for event in connection.execute(query):
        details = json.loads(event.details)
        key = event.signature_id
        if not isinstance(key, int):  # an edited trail may hold anything there: it then matches nothing
            key = int(key) if isinstance(key, str) and key.isdigit() else None
        yield key, {
            "signer_id": event.actor_id, "meaning": details.get("meaning"),
            "entity_type": event.entity_type, "entity_id": event.entity_id,
            "content_hash": details.get("content_hash"), "comment": details.get("comment"),
            "lot_id": event.lot_id, "printed_name": event.actor_name, "signed_at": event.occurred_at,
        }  # fmt: skip


def check_signatures(connection: Connection) -> list[Mismatch]:
    """Compare every signature row with its signing event: signer (id and printed name), meaning,
    record, lot, content hash, comment and, within SIGNED_AT_TOLERANCE, the signing time.

    Rows and events are both streamed in signature-id order and merged, so memory stays flat
    however long the trail (holding every signing event in a dict took 1.2 GB for 780,000
    signatures; benchmarks, issue #10)."""
    mismatches: list[Mismatch] = []
    events = _signing_events(connection)
    pending = next(events, None)

    def missing(key: int | None) -> Mismatch:
        return Mismatch("Signature", str(key), "(row)", "present", "missing")

    rows = connection.execute(
        select(Signature).order_by(Signature.id).execution_options(stream_results=True, yield_per=_BATCH)
    )
    for row in rows:
        while pending is not None and (pending[0] is None or pending[0] < row.id):
            mismatches.append(missing(pending[0]))  # an event naming a signature that is not stored
            pending = next(events, None)
        expected = None
        while pending is not None and pending[0] == row.id:
            expected = pending[1]  # several events naming one signature: the last one counts
            pending = next(events, None)
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
    while pending is not None:
        mismatches.append(missing(pending[0]))
        pending = next(events, None)
    return mismatches
