"""Pieces every document's data shares: the stamp, people, signatures, lot and definitions.

Every document is built as plain JSON-safe data first (strings, ints, bools, lists, dicts;
times as UTC ISO-8601 with a Z). The PDF template renders exactly that data and the same data
is embedded as the file's JSON attachment, so the two can never disagree (21 CFR 11.10(b)).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.batches.models import Lot
from app.batches.services import dating
from app.common import isbt128
from app.common.timeutil import format_site, format_utc
from app.documents.models import DocumentKind
from app.signatures.services import SignatureView

#: Bumped when the shape of the embedded JSON changes, so readers know what they parse.
DATA_FORMAT = 1


@dataclass(frozen=True)
class Stamp:
    """The identity of a document being rendered, known before its bytes exist."""

    public_id: str
    kind: DocumentKind
    generated_at: datetime
    generated_by: str
    reason: str | None = None
    supersedes: str | None = None

    @property
    def verify_url(self) -> str:
        return f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}/verify/doc/{self.public_id}"

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.public_id, "kind": self.kind.value, "title": self.kind.title,
                "generated_at": format_utc(self.generated_at), "generated_by": self.generated_by,
                "reason": self.reason, "supersedes": self.supersedes, "verify_url": self.verify_url,
                "site": current_app.config["SITE_NAME"], "timezone": current_app.config["SITE_TIMEZONE"],
                "format": DATA_FORMAT}  # fmt: skip


def utc(value: datetime | None) -> str | None:
    return format_utc(value) if value is not None else None


def show_time(value: str | None) -> str:
    """A UTC ISO time from the data, shown in the site's zone with the zone (templates)."""
    if not value:
        return ""
    return format_site(datetime.fromisoformat(value.replace("Z", "+00:00")))


class People:
    """Printed names of the users a document mentions, read once."""

    def __init__(self, session: Session, ids: Iterable[int | None]) -> None:
        wanted = {i for i in ids if i is not None}
        rows = session.execute(select(User.id, User.full_name, User.username).where(User.id.in_(wanted))).all()
        self._names = {row.id: f"{row.full_name} ({row.username})" for row in rows}

    def __call__(self, user_id: int | None) -> str | None:
        return self._names.get(user_id) if user_id is not None else None


def manifestation(view: SignatureView) -> dict[str, Any]:
    """A signature as 21 CFR 11.50 wants it shown: printed name, date and time, meaning."""
    s, why = view.signature, view.invalidated_by
    return {
        "meaning": s.meaning, "printed_name": s.signer_name, "username": s.signer_username,
        "signed_at": utc(s.signed_at), "valid": view.valid, "comment": s.comment,
        "invalidated_by": None if why is None else {
            "action": why.action, "at": utc(why.occurred_at), "by": why.actor_name, "reason": why.reason},
    }  # fmt: skip


def lot_summary(lot: Lot) -> dict[str, Any]:
    """The lot's identity (with its ISBT 128 DIN and product code, when it has them) and dates
    (app.batches.services.dating: the same rule as the label's)."""
    made, expiry = dating.manufactured_on(lot), dating.expiry_date(lot)
    return {
        "lot_number": lot.lot_number, "product": lot.product, "product_code": lot.template_version.code,
        **isbt128.din_fields(lot.isbt128_din),
        "isbt128_product_code": lot.template_version.definition.isbt128_product_code,
        "starting_material": lot.starting_material, "status": lot.status.value,
        "started_at": utc(lot.started_at), "executed_at": utc(lot.executed_at),
        "dispositioned_at": utc(lot.dispositioned_at),
        "manufactured_on": made.isoformat() if made else None,
        "shelf_life_months": dating.shelf_life_months(lot),
        "expiry_date": expiry.isoformat() if expiry else None,
    }  # fmt: skip


def definition_summary(row: Any) -> dict[str, Any] | None:
    """A template or specification version: code, version, revision, title and its SHA-256."""
    if row is None:
        return None
    return {"code": row.code, "version": row.version, "revision": row.revision, "label": row.label,
            "title": row.title, "status": row.status.value, "source_sha256": row.source_sha256}  # fmt: skip
