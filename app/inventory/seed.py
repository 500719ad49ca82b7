"""Development demo stock: released material for every BOM item, equipment for every type.

Called by `flask seed-demo` (refused in production there). Idempotent: a lot or item that
already exists is left alone, so running the seed twice changes nothing.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.capture import Actor
from app.auth.models import User
from app.common.timeutil import site_today
from app.inventory import services
from app.inventory.models import MaterialLot
from app.mbr.models import TemplateStatus, TemplateVersion
from app.mbr.schema import BomItem, EquipmentType, TemplateDef, parse_template
from config import BASE_DIR

SHIPPED_TEMPLATES = BASE_DIR / "batch_templates"
SUPPLIERS = ("Thermo Fisher Scientific", "Miltenyi Biotec", "FUJIFILM Wako", "STEMCELL Technologies",
             "Tocris Bioscience", "BioLife Solutions", "R&D Systems")  # fmt: skip
#: Stock received per unit of measure (a working cell bank ships few vials, stocks many µL).
QUANTITY_BY_UNIT = {"mL": "500", "µL": "1000", "uL": "1000", "vial": "20", "slide": "50", "piece": "25",
                    "label": "200", "g": "100", "mg": "500"}  # fmt: skip
#: Demo lots that must be refused at the scan (second lots of common items).
DEMO_QUARANTINED = ("LDN193189", "SB431542")
DEMO_EXPIRED = ("CHIR99021", "SB431542")
DEMO_OVERDUE = ("PIPETTE", "COUNTER")
EXPIRED_REASON = "Demo: supplier notice shortened the expiry (expired lot for training)."


def demo_templates(session: Session, directory: Path = SHIPPED_TEMPLATES) -> list[TemplateDef]:
    """Every Effective template in the database and every template shipped in batch_templates/."""
    effective = session.scalars(select(TemplateVersion).where(TemplateVersion.status == TemplateStatus.EFFECTIVE))
    shipped = [parse_template(p.read_text(encoding="utf-8"), p.name) for p in sorted(directory.glob("*.y*ml"))]
    return [v.definition for v in effective] + shipped


def _pick(codes: list[str], preferred: tuple[str, ...]) -> str | None:
    return next((code for code in preferred if code in codes), codes[0] if codes else None)


def seed_demo_inventory(session: Session, actor: Actor | User, directory: Path = SHIPPED_TEMPLATES) -> None:
    """Released stock for every BOM item, one quarantined and one expired lot, and equipment."""
    who, today = services.acting(actor), site_today()
    items, types = services.catalogue(demo_templates(session, directory))
    codes = [item.code for item in items]
    quarantined, expired = _pick(codes, DEMO_QUARANTINED), _pick(codes, DEMO_EXPIRED)
    for index, item in enumerate(items):
        _seed_lot(session, who, item, "L01", index, today)
        if item.code == quarantined:
            _seed_lot(session, who, item, "L02", index + 1, today, release=False)
        if item.code == expired:
            lot = _seed_lot(session, who, item, "L03", index + 2, today)
            if lot is not None:
                services._set_expiry(session, who, lot, today - timedelta(days=7), EXPIRED_REASON)
    overdue = _pick([kind.code for kind in types], DEMO_OVERDUE)
    for kind in types:
        _seed_equipment(session, who, kind, "01", today + timedelta(days=180))
        if kind.code == overdue:
            _seed_equipment(session, who, kind, "02", today - timedelta(days=3))


def _seed_lot(session: Session, who: Actor, item: BomItem, suffix: str, index: int, today: date,
              release: bool = True) -> MaterialLot | None:  # fmt: skip
    code = f"{item.code}-{suffix}"
    if services.find_material_lot(session, code) is not None:
        return None
    lot = services._receive(
        session, who, lot_code=code, item_code=item.code, name=item.name,
        supplier=SUPPLIERS[index % len(SUPPLIERS)], supplier_lot=f"S{today:%y}{index:03d}{suffix[-1]}",
        expiry_date=today + timedelta(days=365), unit=item.unit,
        quantity=Decimal(QUANTITY_BY_UNIT.get(item.unit, "100")),
    )  # fmt: skip
    if release:
        services._release(session, who, lot, "Demo: certificate of analysis reviewed, identity test passed.")
    return lot


def _seed_equipment(session: Session, who: Actor, kind: EquipmentType, number: str, due: date) -> None:
    code = f"{kind.code}-{number}"
    if services.find_equipment(session, code) is None:
        services._register(session, who, code=code, type_code=kind.code, name=kind.name,
                           location="Production suite 2 (grade B)", calibration_due=due)  # fmt: skip
