"""What the lot page shows: progress, entries, signatures, exceptions, timeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, lazyload, selectinload

from app.audit.models import AuditEvent
from app.batches.models import Entry, LimitStatus, Lot, StepRecord, StepStatus
from app.batches.services.labels import label_data
from app.batches.services.lots import available_steps
from app.common.errors import NotFound
from app.deviations.models import Deviation
from app.deviations.services import for_lot
from app.mbr.schema import StepDef
from app.signatures.services import SignatureView, signatures_of_many


@dataclass
class StepView:
    record: StepRecord
    definition: StepDef
    signatures: list[SignatureView]
    available: bool
    #: Latest moment the step may be completed within its hold windows (for the countdown).
    hold_deadline: datetime | None = None

    @property
    def superseded(self) -> list[Entry]:
        return [e for e in self.record.entries if e.superseded_by_id is not None]


@dataclass
class UnitProgress:
    code: str
    name: str
    steps: list[StepView] = field(default_factory=list)

    @property
    def done(self) -> int:
        return sum(1 for s in self.steps if s.record.status == StepStatus.COMPLETE)


@dataclass
class LotOverview:
    lot: Lot
    units: list[UnitProgress]
    exceptions: list[tuple[str, str, StepRecord | None]]
    deviations: list[Deviation]
    timeline: list[AuditEvent]
    label: dict[str, Any]

    @property
    def current(self) -> StepView | None:
        """The first step that can be worked on now: what the floor should do next."""
        return next((s for u in self.units for s in u.steps if s.available), None)


def load_step(session: Session, lot_id: int, step_id: int) -> StepRecord:
    """A step to show, save, sign or verify, read in the same few queries whatever the lot's size:
    the lot (with its template version), the status of all its steps (prerequisites, hold windows
    and completion read them), and this step's own entries only when used."""
    lot = session.get(Lot, lot_id, options=[selectinload(Lot.steps).lazyload(StepRecord.entries)])
    step = next((s for s in lot.steps if s.id == step_id), None) if lot is not None else None
    # Reading step.lot also makes the step hold its lot, and so the lot's loaded steps, for as long
    # as the caller holds the step: the session itself holds objects only weakly.
    if step is None or step.lot is not lot:
        raise NotFound("No such step in this lot.")
    return step


def with_steps(session: Session, lots: list[Lot]) -> list[Lot]:
    """Load the steps (not their entries) of many lots in one query instead of one per lot."""
    if lots:
        session.scalars(
            select(Lot).where(Lot.id.in_([lot.id for lot in lots]))
            .options(lazyload(Lot.template_version), selectinload(Lot.steps).lazyload(StepRecord.entries))
        ).all()  # fmt: skip
    return lots


def step_signatures(session: Session, step: StepRecord) -> list[SignatureView]:
    """The step's signatures; a correction of any of its entries invalidates them."""
    return steps_signatures(session, [step])[0]


def content_refs(step: StepRecord) -> list[tuple[str, str]]:
    """What a step's signatures cover: its entries (or the step itself before any entry)."""
    # The signed content is the entries: the step's own status changes are not content.
    return [("Entry", str(e.id)) for e in step.entries] or [("StepRecord", str(step.id))]


def steps_signatures(session: Session, steps: list[StepRecord]) -> list[list[SignatureView]]:
    """`step_signatures` of many steps with one query (a lot page showed 54 steps with 54 queries)."""
    return signatures_of_many(session, [(step, content_refs(step)) for step in steps])


def hold_deadline(lot: Lot, step_def: StepDef) -> datetime | None:
    by_code = {s.step_code: s for s in lot.steps}
    deadlines = [
        by_code[w.after].completed_at + timedelta(minutes=w.max_minutes)
        for w in step_def.hold if w.max_minutes is not None and by_code[w.after].completed_at
    ]  # fmt: skip
    return min(deadlines) if deadlines else None


def _exceptions(lot: Lot) -> list[tuple[str, str, StepRecord | None]]:
    found = []
    for step in lot.steps:
        for entry in step.entries:
            if entry.corrects_id is not None:
                found.append(("correction", f"{step.step_code} {entry.input_name}: corrected "
                              f"({entry.correction_reason})", step))  # fmt: skip
            if entry.limit_status != LimitStatus.WITHIN and entry.superseded_by_id is None:
                found.append((str(entry.limit_status), f"{step.step_code} {entry.input_name}: "
                              f"{entry.limit_message}", step))  # fmt: skip
    return found


def lot_overview(session: Session, lot: Lot, timeline_limit: int = 200) -> LotOverview:
    """Everything the lot page shows, read from the audit-trailed records."""
    definition = lot.template_version.definition
    records = {s.step_code: s for s in lot.steps}
    available = {s.id for s in available_steps(lot)}
    ordered = [records[step_def.code] for unit in definition.unit_procedures for step_def in unit.steps]
    signatures = dict(zip((r.id for r in ordered), steps_signatures(session, ordered), strict=True))
    units = []
    for unit in definition.unit_procedures:
        progress = UnitProgress(unit.code, unit.name)
        for step_def in unit.steps:
            record = records[step_def.code]
            progress.steps.append(StepView(record, step_def, signatures[record.id],
                                           record.id in available, hold_deadline(lot, step_def)))  # fmt: skip
        units.append(progress)
    timeline = list(session.scalars(
        select(AuditEvent).where(AuditEvent.lot_id == lot.id).order_by(AuditEvent.id.desc()).limit(timeline_limit)
    ))  # fmt: skip
    return LotOverview(lot, units, _exceptions(lot), for_lot(session, lot.id), timeline, label_data(lot))
