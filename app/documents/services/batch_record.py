"""The data of an executed batch record (21 CFR 211.188): every step with its entries,
corrections, signatures, hold times, materials, equipment, yields, exceptions, deviations,
QC results, QA's review and the disposition."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.batches.models import Entry, Lot, StepRecord
from app.batches.services.overview import LotOverview, StepView, lot_overview
from app.documents.services.coa import disposition_summary, lot_spec, qc_rows
from app.documents.services.common import People, Stamp, definition_summary, lot_summary, manifestation, utc
from app.inventory.models import Equipment, MaterialLot
from app.mbr.schema import StepDef
from app.release.facts import gather
from app.signatures.services import signatures_of


class _Lookups:
    """Material lots, equipment and people the entries name, read once."""

    def __init__(self, session: Session, lot: Lot, extra_people: set[int | None]) -> None:
        entries = [e for s in lot.steps for e in s.entries]
        self.materials = self._by_id(session, MaterialLot, {e.material_lot_id for e in entries})
        self.equipment = self._by_id(session, Equipment, {e.equipment_id for e in entries})
        ids = {e.entered_by_id for e in entries} | extra_people
        ids |= {i for s in lot.steps for i in (s.performed_by_id, s.verified_by_id)}
        self.people = People(session, ids)

    @staticmethod
    def _by_id(session: Session, model: type, ids: set[int | None]) -> dict[int, Any]:
        wanted = {i for i in ids if i is not None}
        return {row.id: row for row in session.scalars(select(model).where(model.id.in_(wanted)))} if wanted else {}


def _material(m: MaterialLot | None) -> dict[str, Any] | None:
    if m is None:
        return None
    return {"lot_code": m.lot_code, "item_code": m.item_code, "name": m.name, "supplier": m.supplier,
            "supplier_lot": m.supplier_lot, "expiry_date": m.expiry_date.isoformat(),
            "status": m.status.value}  # fmt: skip


def _equipment(q: Equipment | None) -> dict[str, Any] | None:
    if q is None:
        return None
    due = q.calibration_due.isoformat() if q.calibration_due else None
    return {"code": q.code, "type_code": q.type_code, "name": q.name, "calibration_due": due}


def _label(step_def: StepDef, name: str) -> str:
    try:
        return step_def.input(name).label
    except KeyError:
        return name


def _entry(e: Entry, step_def: StepDef, look: _Lookups) -> dict[str, Any]:
    return {
        "id": e.id, "input": e.input_name, "label": _label(step_def, e.input_name), "value": e.value_text,
        "unit": e.unit, "quantity": str(e.quantity) if e.quantity is not None else None,
        "material": _material(look.materials.get(e.material_lot_id)) if e.material_lot_id else None,
        "equipment": _equipment(look.equipment.get(e.equipment_id)) if e.equipment_id else None,
        "limit_status": e.limit_status.value, "limit_message": e.limit_message, "comment": e.comment,
        "entered_by": look.people(e.entered_by_id), "entered_at": utc(e.entered_at),
        "corrects": e.corrects_id, "correction_reason": e.correction_reason,
        "superseded_by": e.superseded_by_id, "current": e.superseded_by_id is None,
    }  # fmt: skip


def _holds(step: StepRecord, step_def: StepDef, lot: Lot) -> list[dict[str, Any]]:
    done = {s.step_code: s.completed_at for s in lot.steps}
    rows = []
    for window in step_def.hold:
        start, end = done.get(window.after), step.completed_at
        minutes = Decimal(int((end - start).total_seconds())) / 60 if start and end else None
        low_ok = minutes is not None and (window.min_minutes is None or minutes >= window.min_minutes)
        high_ok = minutes is not None and (window.max_minutes is None or minutes <= window.max_minutes)
        within = None if minutes is None else low_ok and high_ok
        rows.append({"after": window.after, "min_minutes": window.min_minutes, "max_minutes": window.max_minutes,
                     "actual_minutes": str(minutes.quantize(Decimal("0.1"))) if minutes is not None else None,
                     "within": within})  # fmt: skip
    return rows


def _step(view: StepView, lot: Lot, look: _Lookups) -> dict[str, Any]:
    record, step_def = view.record, view.definition
    return {
        "code": record.step_code, "title": step_def.title, "instruction": step_def.instruction,
        "critical": step_def.critical, "status": record.status.value,
        "started_at": utc(record.started_at), "completed_at": utc(record.completed_at),
        "performed_by": look.people(record.performed_by_id), "verified_by": look.people(record.verified_by_id),
        "hold": _holds(record, step_def, lot),
        "sampling": [{"sample": s.sample, "test": s.test, "quantity": str(s.quantity), "unit": s.unit,
                      "purpose": s.purpose} for s in step_def.sampling],
        "entries": [_entry(e, step_def, look) for e in record.entries],
        "signatures": [manifestation(v) for v in view.signatures],
    }  # fmt: skip


def _corrections(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every correction: old value -> new value, who, when and why (Annex 11 §9)."""
    rows = []
    for step in steps:
        by_id = {e["id"]: e for e in step["entries"]}
        for new in (e for e in step["entries"] if e["corrects"] is not None):
            old = by_id.get(new["corrects"], {})
            rows.append({"step": step["code"], "input": new["input"], "label": new["label"],
                         "old_value": old.get("value"), "old_unit": old.get("unit"),
                         "old_entered_by": old.get("entered_by"), "old_entered_at": old.get("entered_at"),
                         "new_value": new["value"], "new_unit": new["unit"], "corrected_by": new["entered_by"],
                         "corrected_at": new["entered_at"], "reason": new["correction_reason"]})  # fmt: skip
    return rows


def _used(steps: list[dict[str, Any]], key: str, code_key: str) -> list[dict[str, Any]]:
    """Each material lot (or equipment item) used, once, with the steps that used it."""
    found: dict[str, dict[str, Any]] = {}
    for step in steps:
        for e in (e for e in step["entries"] if e[key] and e["current"]):
            item = found.setdefault(e[key][code_key], {**e[key], "steps": [], "quantities": []})
            item["steps"].append(step["code"])
            if e["quantity"] is not None:
                item["quantities"].append(f"{e['quantity']} {e['unit'] or ''}".strip())
    return sorted(found.values(), key=lambda item: item[code_key])


def _yields(lot: Lot) -> list[dict[str, Any]]:
    current = {(s.step_code, e.input_name): e for s in lot.steps for e in s.current_entries}
    rows = []
    for stage in lot.template_version.definition.yield_stages:
        step_code, _, name = stage.actual_from.rpartition(".")
        entry = current.get((step_code, name))
        result = stage.evaluate(entry.value_decimal) if entry and entry.value_decimal is not None else None
        rows.append({"code": stage.code, "name": stage.name, "theoretical": str(stage.theoretical),
                     "unit": stage.unit, "min_percent": str(stage.min_percent), "max_percent": str(stage.max_percent),
                     "actual": entry.value_text if entry else None,
                     "percent": str(result.reported) if result else None,
                     "within": result.within if result else None})  # fmt: skip
    return rows


def _deviations(session: Session, overview: LotOverview, people: People) -> list[dict[str, Any]]:
    return [{
        "number": d.number, "category": d.category.value, "severity": d.severity.value, "title": d.title,
        "description": d.description, "status": d.status.value, "automatic": d.automatic,
        "opened_at": utc(d.opened_at), "opened_by": people(d.opened_by_id), "root_cause": d.root_cause,
        "impact": d.impact, "capa_ref": d.capa_ref, "closed_at": utc(d.closed_at), "closed_by": people(d.closed_by_id),
        "signatures": [manifestation(v) for v in signatures_of(session, d)],
    } for d in overview.deviations]  # fmt: skip


def batch_record_data(session: Session, lot: Lot, stamp: Stamp) -> dict[str, Any]:
    """Everything the executed batch record shows, as JSON-safe data (also its attachment)."""
    overview = lot_overview(session, lot, timeline_limit=0)
    facts = gather(session, lot)
    extra = {d.opened_by_id for d in facts.deviations} | {d.closed_by_id for d in facts.deviations}
    extra |= {r.analyst_id for r in facts.results} | {r.reviewed_by_id for r in facts.results}
    extra |= {facts.disposition.decided_by_id if facts.disposition else None, lot.started_by_id}
    extra |= {facts.review.review.reviewed_by_id if facts.review.review else None}
    look = _Lookups(session, lot, extra)
    units = [{"code": u.code, "name": u.name, "steps": [_step(v, lot, look) for v in u.steps]} for u in overview.units]
    steps = [s for u in units for s in u["steps"]]
    spec = lot_spec(session, lot)
    return {
        "document": stamp.as_dict(), "lot": {**lot_summary(lot), "started_by": look.people(lot.started_by_id)},
        "template": definition_summary(lot.template_version), "specification": definition_summary(spec),
        "units": units, "corrections": _corrections(steps),
        "materials": _used(steps, "material", "lot_code"), "equipment": _used(steps, "equipment", "code"),
        "yields": _yields(lot),
        "exceptions": [{"kind": kind, "text": text, "step": step.step_code if step else None}
                       for kind, text, step in overview.exceptions],
        "deviations": _deviations(session, overview, look.people),
        "qc": qc_rows(session, facts, look.people),
        "disposition": disposition_summary(facts, spec, look.people),
    }  # fmt: skip
