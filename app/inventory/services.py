"""Material lots and equipment: receipt, QA disposition, use at a step (21 CFR 211.84, 211.87, 211.68).

The batch-execution engine calls `usable_material_lot`, `consume` and `usable_equipment` when
an operator scans a label; their refusals are worded for the person at the bench. Expiry and
calibration dates are site calendar days: the date printed is the last day of use.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from contextlib import AbstractContextManager
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.audit import capture as audit
from app.audit.capture import Actor
from app.auth.models import User
from app.auth.permissions import require_roles
from app.auth.roles import QA, SUPERVISOR
from app.common.checks import require_reason, require_text
from app.common.db import refuse_concurrent
from app.common.errors import NotFound, RuleViolation
from app.common.timeutil import site_today
from app.inventory.models import Equipment, EquipmentStatus, MaterialLot, MaterialStatus
from app.mbr.models import TemplateStatus, TemplateVersion
from app.mbr.schema import BomItem, EquipmentType, TemplateDef
from app.mbr.schema.base import CODE_RE

#: Who receives material and keeps the equipment register (QA alone decides on material).
STOREKEEPERS = (SUPERVISOR, QA)
#: Label IDs: letters, digits and . _ / - (what label printers and scanners produce).
LABEL_RE = re.compile(r"[A-Z0-9][A-Z0-9._/-]*\Z")


def normalize_code(text: str | None) -> str:
    """Codes compare upper-case and without blanks: scanners add CR/LF, people type lower case."""
    return (text or "").strip().upper()


def acting(who: Actor | User) -> Actor:
    """The audit actor for a user, or an explicit system actor (CLI seeding) as it is."""
    return who if isinstance(who, Actor) else Actor.of(who)


def _code(text: str | None, pattern: re.Pattern[str], what: str, example: str) -> str:
    code = normalize_code(text)
    if not pattern.match(code):
        raise RuleViolation(f"{what} {code!r} is not valid (e.g. {example}).", status=400)
    return code


def _no_lost_update(lot: MaterialLot) -> AbstractContextManager[None]:
    """MaterialLot's version column makes a concurrent save fail its UPDATE; say so to the user."""
    return refuse_concurrent(f"Lot {lot.lot_code} was changed by someone else at the same moment; "
                             "nothing was saved. Try again.")  # fmt: skip


def _insert(session: Session, row: Any, action: str, actor: Actor, duplicate: str) -> None:
    """Add a row; its unique code column, not an earlier look-up, is what stops a double entry."""
    table, column = row.__tablename__, "lot_code" if isinstance(row, MaterialLot) else "code"
    # SQLite names the column in its error, PostgreSQL the constraint.
    with refuse_concurrent(duplicate, f"{table}.{column}", f"uq_{table}_{column}"), \
            audit.action(session, action, actor):  # fmt: skip
        session.add(row)


def _positive(quantity: Decimal, message: str) -> None:
    if not quantity.is_finite() or quantity <= 0:
        raise RuleViolation(message, status=400)


def catalogue(templates: Iterable[TemplateDef]) -> tuple[list[BomItem], list[EquipmentType]]:
    """BOM items and equipment types of the templates by code, first definition wins."""
    items: dict[str, BomItem] = {}
    types: dict[str, EquipmentType] = {}
    for template in templates:
        for item in template.bill_of_materials:
            items.setdefault(item.code, item)
        for kind in template.equipment_types:
            types.setdefault(kind.code, kind)
    return list(items.values()), list(types.values())


def loaded_catalogue(session: Session) -> tuple[list[BomItem], list[EquipmentType]]:
    """What the loaded (not retired) master batch records name, to suggest codes on the forms."""
    versions = session.scalars(select(TemplateVersion).where(TemplateVersion.status != TemplateStatus.RETIRED)
                               .order_by(TemplateVersion.code, TemplateVersion.version.desc()))  # fmt: skip
    return catalogue(v.definition for v in versions)


# --- material lots ----------------------------------------------------------------------------


def receive_material_lot(
    session: Session, user: User, *, lot_code: str, item_code: str, name: str, supplier: str,
    supplier_lot: str, expiry_date: date, unit: str, quantity: Decimal | None = None,
) -> MaterialLot:  # fmt: skip
    """Record a delivered lot; it stays in quarantine until QA releases it (211.82, 211.84)."""
    require_roles(user, STOREKEEPERS, "receive material lots")
    return _receive(session, Actor.of(user), lot_code=lot_code, item_code=item_code, name=name,
                    supplier=supplier, supplier_lot=supplier_lot, expiry_date=expiry_date, unit=unit,
                    quantity=quantity)  # fmt: skip


def _receive(session: Session, actor: Actor, *, quantity: Decimal | None, **fields: Any) -> MaterialLot:
    if quantity is not None:
        _positive(quantity, "The quantity received must be more than zero (leave it empty if not tracked).")
    if fields["expiry_date"] is None:
        raise RuleViolation("The expiry date on the supplier's label is required.", status=400)
    lot = MaterialLot(
        lot_code=_code(fields["lot_code"], LABEL_RE, "Lot ID", "ML-2026-0042"),
        item_code=_code(fields["item_code"], CODE_RE, "Item code", "SB431542"),
        name=require_text(fields["name"], "The material name is required."),
        supplier=require_text(fields["supplier"], "The supplier is required."),
        supplier_lot=require_text(fields["supplier_lot"], "The supplier's lot number is required."),
        unit=require_text(fields["unit"], "The unit is required."),
        expiry_date=fields["expiry_date"], quantity_on_hand=quantity, status=MaterialStatus.QUARANTINE,
    )  # fmt: skip
    _insert(session, lot, "material_lot.received", actor, f"Lot {lot.lot_code} was already received.")
    return lot


def release_material_lot(session: Session, qa_user: User, lot: MaterialLot, reason: str) -> None:
    """QA releases a quarantined lot for use; a rejected lot is never released."""
    require_roles(qa_user, (QA,), "release material lots")
    _release(session, Actor.of(qa_user), lot, reason)


def _release(session: Session, actor: Actor, lot: MaterialLot, reason: str) -> None:
    why = require_reason(reason, f"release lot {lot.lot_code}")
    if lot.status == MaterialStatus.REJECTED:
        raise RuleViolation(f"Lot {lot.lot_code} was rejected; a rejected lot is never released.")
    if lot.status == MaterialStatus.RELEASED:
        raise RuleViolation(f"Lot {lot.lot_code} is already released.")
    if lot.expired_on(site_today()):
        raise RuleViolation(f"Lot {lot.lot_code} expired on {lot.expiry_date.isoformat()}; it cannot be released.")
    with _no_lost_update(lot), audit.action(session, "material_lot.released", actor, reason=why):
        lot.status = MaterialStatus.RELEASED


def reject_material_lot(session: Session, qa_user: User, lot: MaterialLot, reason: str) -> None:
    """QA rejects a quarantined or released lot (e.g. a supplier recall); final."""
    require_roles(qa_user, (QA,), "reject material lots")
    why = require_reason(reason, f"reject lot {lot.lot_code}")
    if lot.status == MaterialStatus.REJECTED:
        raise RuleViolation(f"Lot {lot.lot_code} is already rejected.")
    with _no_lost_update(lot), audit.action(session, "material_lot.rejected", Actor.of(qa_user), reason=why):
        lot.status = MaterialStatus.REJECTED


def set_expiry(session: Session, qa_user: User, lot: MaterialLot, expiry_date: date, reason: str) -> None:
    """QA changes the expiry date (supplier notice, retest); the old date stays in the trail."""
    require_roles(qa_user, (QA,), "change expiry dates")
    _set_expiry(session, Actor.of(qa_user), lot, expiry_date, reason)


def _set_expiry(session: Session, actor: Actor, lot: MaterialLot, expiry_date: date, reason: str) -> None:
    why = require_reason(reason, f"change the expiry date of lot {lot.lot_code}")
    if expiry_date is None or expiry_date == lot.expiry_date:
        raise RuleViolation("Enter the new expiry date (different from the current one).", status=400)
    with _no_lost_update(lot), audit.action(session, "material_lot.expiry_changed", actor, reason=why):
        lot.expiry_date = expiry_date


def get_material_lot(session: Session, lot_id: int) -> MaterialLot:
    lot = session.get(MaterialLot, lot_id)
    if lot is None:
        raise NotFound("No such material lot.")
    return lot


def find_material_lot(session: Session, lot_code: str) -> MaterialLot | None:
    return session.scalar(select(MaterialLot).where(MaterialLot.lot_code == normalize_code(lot_code)))


def search_material_lots(
    session: Session, text: str | None = None, status: MaterialStatus | str | None = None, limit: int = 500
) -> list[MaterialLot]:
    """Lots whose ID, item code, name or supplier lot contains `text`, soonest expiry first."""
    query = select(MaterialLot).order_by(MaterialLot.expiry_date, MaterialLot.lot_code).limit(limit)
    if text and text.strip():
        like = f"%{text.strip()}%"
        query = query.where(or_(MaterialLot.lot_code.ilike(like), MaterialLot.item_code.ilike(like),
                                MaterialLot.name.ilike(like), MaterialLot.supplier_lot.ilike(like)))  # fmt: skip
    if status:
        query = query.where(MaterialLot.status == MaterialStatus(status))
    return list(session.scalars(query))


def usable_material_lot(session: Session, lot_code: str, bom_code: str, today: date) -> MaterialLot:
    """The scanned lot if this step may use it; otherwise a refusal saying exactly why."""
    code = normalize_code(lot_code)
    if not code:
        raise RuleViolation("Scan or type the material lot ID.", status=400)
    lot = find_material_lot(session, code)
    if lot is None:
        raise RuleViolation(f"Unknown material lot {code}: check the label and scan again.")
    if lot.item_code != normalize_code(bom_code):
        raise RuleViolation(f"Lot {code} is {lot.item_code}, this step needs {normalize_code(bom_code)}.")
    if lot.status == MaterialStatus.QUARANTINE:
        raise RuleViolation(f"Lot {code} ({lot.item_code}) is in quarantine: QA has not released it.")
    if lot.status == MaterialStatus.REJECTED:
        raise RuleViolation(f"Lot {code} ({lot.item_code}) was rejected by QA and must not be used.")
    if lot.expired_on(today):
        raise RuleViolation(f"Lot {code} ({lot.item_code}) expired on {lot.expiry_date.isoformat()}.")
    if lot.quantity_on_hand is not None and lot.quantity_on_hand <= 0:
        raise RuleViolation(f"Lot {code} ({lot.item_code}) is used up: nothing left on hand.")
    return lot


def consume(
    session: Session, material_lot: MaterialLot, quantity: Decimal | None, actor: Actor | User,
    *, unit: str | None = None,
) -> None:  # fmt: skip
    """Take `quantity` (in the lot's unit) from the stock of a released lot, if its stock is tracked.

    Two steps consuming the same lot at once: the second save fails on the version column and
    becomes ConcurrentChange (nothing saved), so stock is never decremented from a stale value.
    """
    lot = material_lot
    if lot.status != MaterialStatus.RELEASED:
        raise RuleViolation(f"Lot {lot.lot_code} is {lot.status.value}; only released lots are used.")
    if quantity is None or lot.quantity_on_hand is None:
        return  # not measured at this step, or a lot whose stock is not tracked
    _positive(quantity, "The quantity used must be more than zero.")
    if unit is not None and unit.strip() != lot.unit:
        raise RuleViolation(f"Lot {lot.lot_code} is counted in {lot.unit}, not {unit.strip()}.", status=400)
    if quantity > lot.quantity_on_hand:
        raise RuleViolation(f"Only {lot.quantity_on_hand} {lot.unit} of lot {lot.lot_code} is on hand; "
                            f"{quantity} {lot.unit} cannot be taken.")  # fmt: skip
    with _no_lost_update(lot), audit.action(session, "material_lot.consumed", acting(actor),
                                            quantity=str(quantity), unit=lot.unit):  # fmt: skip
        lot.quantity_on_hand = lot.quantity_on_hand - quantity


# --- equipment --------------------------------------------------------------------------------


def register_equipment(
    session: Session, user: User, *, code: str, type_code: str, name: str, location: str = "",
    calibration_due: date | None = None,
) -> Equipment:  # fmt: skip
    """Add an item to the equipment register; it is active from now on."""
    require_roles(user, STOREKEEPERS, "register equipment")
    return _register(session, Actor.of(user), code=code, type_code=type_code, name=name,
                     location=location, calibration_due=calibration_due)  # fmt: skip


def _register(session: Session, actor: Actor, *, code: str, type_code: str, name: str, location: str,
              calibration_due: date | None) -> Equipment:  # fmt: skip
    item = Equipment(
        code=_code(code, LABEL_RE, "Equipment ID", "BSC-02"),
        type_code=_code(type_code, CODE_RE, "Equipment type", "BSC"),
        name=require_text(name, "The equipment name is required."),
        location=(location or "").strip(), calibration_due=calibration_due, status=EquipmentStatus.ACTIVE,
    )  # fmt: skip
    _insert(session, item, "equipment.registered", actor, f"Equipment {item.code} is already registered.")
    return item


def set_equipment_status(
    session: Session, user: User, item: Equipment, status: EquipmentStatus | str, reason: str
) -> None:
    """Take an item out of service, return it, or retire it for good."""
    require_roles(user, STOREKEEPERS, "change the status of equipment")
    why = require_reason(reason, f"change the status of {item.code}")
    if status not in set(EquipmentStatus):
        raise RuleViolation(f"Unknown equipment status {status!r}.", status=400)
    new = EquipmentStatus(status)
    if item.status == EquipmentStatus.RETIRED:
        raise RuleViolation(f"{item.code} is retired; retired equipment never returns to use.")
    if new == item.status:
        raise RuleViolation(f"{item.code} is already {new.value.replace('_', ' ')}.")
    with audit.action(session, "equipment.status_changed", Actor.of(user), reason=why):
        item.status = new


def record_calibration(session: Session, user: User, item: Equipment, calibration_due: date, reason: str) -> None:
    """Record a calibration by its next due date (the calibration certificate is the reason's reference)."""
    require_roles(user, STOREKEEPERS, "record calibrations")
    why = require_reason(reason, f"record a calibration of {item.code}")
    if item.status == EquipmentStatus.RETIRED:
        raise RuleViolation(f"{item.code} is retired; it is not calibrated any more.")
    if calibration_due is None or calibration_due < site_today():
        raise RuleViolation("The next calibration due date must be today or later.", status=400)
    with audit.action(session, "equipment.calibrated", Actor.of(user), reason=why):
        item.calibration_due = calibration_due


def get_equipment(session: Session, equipment_id: int) -> Equipment:
    item = session.get(Equipment, equipment_id)
    if item is None:
        raise NotFound("No such equipment.")
    return item


def find_equipment(session: Session, code: str) -> Equipment | None:
    return session.scalar(select(Equipment).where(Equipment.code == normalize_code(code)))


def search_equipment(
    session: Session, text: str | None = None, status: EquipmentStatus | str | None = None
) -> list[Equipment]:
    """Equipment whose ID, type, name or location contains `text`, by type and ID."""
    query = select(Equipment).order_by(Equipment.type_code, Equipment.code)
    if text and text.strip():
        like = f"%{text.strip()}%"
        query = query.where(or_(Equipment.code.ilike(like), Equipment.type_code.ilike(like),
                                Equipment.name.ilike(like), Equipment.location.ilike(like)))  # fmt: skip
    if status:
        query = query.where(Equipment.status == EquipmentStatus(status))
    return list(session.scalars(query))


def usable_equipment(session: Session, code: str, type_code: str, today: date) -> Equipment:
    """The scanned item if this step may use it; otherwise a refusal saying exactly why."""
    scanned = normalize_code(code)
    if not scanned:
        raise RuleViolation("Scan or type the equipment ID.", status=400)
    item = find_equipment(session, scanned)
    if item is None:
        raise RuleViolation(f"Unknown equipment {scanned}: check the label and scan again.")
    needed = normalize_code(type_code)
    if item.type_code != needed:
        raise RuleViolation(f"{scanned} is a {item.type_code}, this step needs a {needed}.")
    if item.status != EquipmentStatus.ACTIVE:
        raise RuleViolation(f"{scanned} is {item.status.value.replace('_', ' ')} and must not be used.")
    if item.calibration_overdue_on(today):
        raise RuleViolation(f"{scanned} calibration overdue since {item.calibration_due.isoformat()}.")
    return item
