"""ISBT 128 identification of lots, and the label data a licensed site's label system prints."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from typing import Any

from sqlalchemy.orm import Session

from app.audit import capture as audit
from app.audit.capture import Actor
from app.auth.models import User
from app.auth.permissions import require_roles
from app.auth.roles import OPERATOR, QA, SUPERVISOR
from app.batches.models import Lot, LotStatus
from app.batches.services import dating
from app.common import isbt128
from app.common.errors import RuleViolation
from app.common.sequences import next_number
from app.common.timeutil import format_utc

#: Who takes label data to the label system: production labels units, QA issues release labels.
LABEL_ROLES = (OPERATOR, SUPERVISOR, QA)
#: Bumped when the fields change, so a label system's import knows what it reads (2: expiry).
LABEL_DATA_FORMAT = 2
LABEL_FORMATS = ("json", "csv")


def assign_din(session: Session, fin: str | None, year: int) -> str | None:
    """Take the next DIN of the site's FIN in `year` (the site's calendar year); None without a FIN.

    The sequence is the same row-locked counter as lot numbers, in the lot's transaction: a lot
    that is not started gives its number back, so DINs are gapless and never issued twice.
    """
    if fin is None:
        return None
    problem = isbt128.fin_problem(fin)
    if problem:
        raise RuleViolation(f"The site setting CELLBATCH_ISBT128_FIN is wrong: {problem}. No lot can start.")
    sequence = next_number(session, f"isbt128:{fin}", year)
    if sequence > isbt128.SEQUENCE_MAX:
        raise RuleViolation(f"Every ISBT 128 DIN of FIN {fin} for {year} is used (999999); no lot can start.")
    return isbt128.make_din(fin, year, sequence)


def _missing(lot: Lot, product_code: str | None) -> list[str]:
    missing = []
    if dating.shelf_life_months(lot) is None:
        missing.append(f"no expiry date: the site set no shelf life for {lot.template_version.code} "
                       "(CELLBATCH_SHELF_LIFE_MONTHS)")  # fmt: skip
    if lot.isbt128_din is None:
        missing.append("no ISBT 128 DIN: the site had no FIN configured (CELLBATCH_ISBT128_FIN) when the lot started")
    if product_code is None:
        missing.append(f"no ISBT 128 product code: master batch record {lot.template_version.label} declares none")
    return missing


def _disposition(lot: Lot) -> str:
    if lot.status in (LotStatus.RELEASED, LotStatus.REJECTED):
        return lot.status.value
    return "quarantined"


def label_data(lot: Lot) -> dict[str, Any]:
    """The fields of the lot's label, JSON-safe, in print order; `missing` says what prevents an
    ISBT 128 label. Manufacture and expiry dates follow the CoA's rule (dating); both are None
    until execution completes."""
    product_code = lot.template_version.definition.isbt128_product_code
    made, expiry = dating.manufactured_on(lot), dating.expiry_date(lot)
    return {
        "format": LABEL_DATA_FORMAT, "lot_number": lot.lot_number, "product": lot.product,
        "master_batch_record": lot.template_version.label,
        **isbt128.din_fields(lot.isbt128_din),
        "isbt128_product_code": product_code, "disposition": _disposition(lot), "lot_status": lot.status.value,
        "starting_material": lot.starting_material, "started_at": format_utc(lot.started_at),
        "executed_at": format_utc(lot.executed_at) or None, "manufactured_on": made.isoformat() if made else None,
        "expiry_date": expiry.isoformat() if expiry else None,
        "dispositioned_at": format_utc(lot.dispositioned_at) or None, "missing": _missing(lot, product_code),
    }  # fmt: skip


def _csv(data: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(data)
    writer.writerow("; ".join(v) if isinstance(v, list) else "" if v is None else v for v in data.values())
    return out.getvalue()


def export_label_data(session: Session, user: User, lot: Lot, fmt: str) -> str:
    """The label data as JSON or CSV (one header row, one row). What leaves for the label
    system is an audit event naming the DIN and the SHA-256 of the exact text exported."""
    require_roles(user, LABEL_ROLES, "export label data")
    if fmt not in LABEL_FORMATS:
        raise RuleViolation(f"Label data is exported as {' or '.join(LABEL_FORMATS)}, not {fmt!r}.", status=400)
    data = label_data(lot)
    body = json.dumps(data, indent=2) + "\n" if fmt == "json" else _csv(data)
    audit.record(session, "lot.label_data_exported", Actor.of(user), entity=lot, format=fmt,
                 din=data["isbt128_din"], sha256=hashlib.sha256(body.encode()).hexdigest())  # fmt: skip
    return body
