"""Review by exception (issue #7 point 4): first and only what needs a human, then counts.

Categories: incomplete or unsigned steps, limit excursions, corrections, late entries (made
after their step was signed as performed), deviations, hold-time breaches (the automatic
HOLD_TIME deviations the execution service opens), invalidated signatures, OOS and alert QC
results. Each item names the record it belongs to (`Target`) so the page can link to it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit.models import AuditEvent
from app.batches.models import Entry, LimitStatus, Lot, StepStatus
from app.common.timeutil import format_site
from app.deviations.models import Category, Deviation
from app.qc.models import ResultStatus
from app.qc.services import TestState, full_names
from app.release import checks
from app.release.facts import LotFacts, Target, gather


@dataclass(frozen=True)
class ExceptionItem:
    title: str
    detail: str
    target: Target | None
    #: Blocks release as long as it stands (e.g. an open deviation); others need a look only.
    blocking: bool = False


@dataclass(frozen=True)
class ExceptionCategory:
    key: str
    title: str
    items: list[ExceptionItem]


@dataclass(frozen=True)
class ReviewReport:
    facts: LotFacts
    categories: list[ExceptionCategory]
    summary: list[tuple[str, str]]
    refusals: list[str]

    @property
    def lot(self) -> Lot:
        return self.facts.lot

    @property
    def exceptions(self) -> list[ExceptionCategory]:
        """Only the categories with something in them, in review order."""
        return [c for c in self.categories if c.items]

    @property
    def exception_count(self) -> int:
        return sum(len(c.items) for c in self.categories)


def exceptions(session: Session, lot: Lot) -> ReviewReport:
    """The review-by-exception data of a lot, with the release refusals it implies."""
    facts = gather(session, lot)
    entries = list(session.scalars(select(Entry).where(Entry.lot_id == lot.id).order_by(Entry.id)))
    names = full_names(session, {e.entered_by_id for e in entries})
    categories = [
        ExceptionCategory("steps", "Incomplete or unsigned steps",
                          [ExceptionItem(text, "", target, True) for target, text in checks.step_problems(facts)]),
        ExceptionCategory("limits", "Limit excursions", _limit_items(entries)),
        ExceptionCategory("corrections", "Corrections", _correction_items(entries, names)),
        ExceptionCategory("late", "Late entries", _late_items(entries, names)),
        ExceptionCategory("deviations", "Deviations",
                          [_deviation_item(d) for d in facts.deviations if d.category != Category.HOLD_TIME]),
        ExceptionCategory("holds", "Hold-time breaches",
                          [_deviation_item(d) for d in facts.deviations if d.category == Category.HOLD_TIME]),
        ExceptionCategory("signatures", "Invalidated signatures", _signature_items(facts)),
        ExceptionCategory("qc", "OOS and alert QC results", _qc_items(facts)),
    ]  # fmt: skip
    return ReviewReport(facts, categories, _summary(session, facts, entries), checks.refusals(facts))


def _entry_target(entry: Entry) -> Target:
    return Target("Entry", entry.id, entry.lot_id, entry.step_record_id)


def _entry_label(entry: Entry) -> str:
    unit = f" {entry.unit}" if entry.unit else ""
    return f"{entry.step_record.step_code} · {entry.input_name}: {entry.value_text}{unit}"


def _limit_items(entries: list[Entry]) -> list[ExceptionItem]:
    items = []
    for entry in entries:
        if entry.limit_status == LimitStatus.WITHIN:
            continue
        later = " (since corrected)" if entry.superseded_by_id else ""
        detail = f"{entry.limit_status} limit: {entry.limit_message or 'outside the limits'}{later}"
        items.append(ExceptionItem(_entry_label(entry), detail, _entry_target(entry)))
    return items


def _correction_items(entries: list[Entry], names: dict[int, str]) -> list[ExceptionItem]:
    by_id = {e.id: e for e in entries}
    items = []
    for entry in entries:
        if entry.corrects_id is None:
            continue
        old = by_id.get(entry.corrects_id)
        was = f"was {old.value_text}; " if old else ""
        detail = (f"{was}reason: {entry.correction_reason or '—'} "
                  f"({names.get(entry.entered_by_id, '?')}, {format_site(entry.entered_at)})")  # fmt: skip
        items.append(ExceptionItem(_entry_label(entry), detail, _entry_target(entry)))
    return items


def _late_items(entries: list[Entry], names: dict[int, str]) -> list[ExceptionItem]:
    """Entries (other than corrections, listed above) made after the step was signed."""
    items = []
    for entry in entries:
        completed = entry.step_record.completed_at
        if entry.corrects_id is None and completed is not None and entry.entered_at > completed:
            detail = (f"entered {format_site(entry.entered_at)} by {names.get(entry.entered_by_id, '?')}, "
                      f"after the step was signed at {format_site(completed)}")  # fmt: skip
            items.append(ExceptionItem(_entry_label(entry), detail, _entry_target(entry)))
    return items


def _deviation_item(deviation: Deviation) -> ExceptionItem:
    detail = (f"{deviation.category.replace('_', ' ')} · {deviation.severity} · "
              f"{deviation.status.replace('_', ' ')}{' · automatic' if deviation.automatic else ''}")  # fmt: skip
    return ExceptionItem(f"{deviation.number}: {deviation.title}", detail,
                         Target("Deviation", deviation.id, deviation.lot_id), deviation.is_open)  # fmt: skip


def _signature_items(facts: LotFacts) -> list[ExceptionItem]:
    items = []
    for record in facts.signed:
        blocking = {id(v) for v in record.blocking_invalid()}
        for view in record.signatures:
            if not view.valid:
                note = "" if id(view) in blocking else " (signed again since)"
                items.append(ExceptionItem(checks.invalid_signature_text(record, view) + note, "",
                                           record.target, id(view) in blocking))  # fmt: skip
    return items


def _qc_items(facts: LotFacts) -> list[ExceptionItem]:
    current = {s.latest.id for s in facts.tests if s.latest is not None}
    items = []
    for result in facts.results:
        if result.status == ResultStatus.PASS:
            continue
        retested = "" if result.id in current else " (retested since)"
        items.append(ExceptionItem(f"{result.test.name}: {result.result_text}",
                                   f"{result.status}{retested} — {result.explanation}",
                                   Target("QCResult", result.id, result.lot_id),
                                   result.status == ResultStatus.FAIL and result.id in current))  # fmt: skip
    return items


def _summary(session: Session, facts: LotFacts, entries: list[Entry]) -> list[tuple[str, str]]:
    """Counts of everything that needs no look: the record at a glance."""
    lot = facts.lot
    complete = sum(1 for s in lot.steps if s.status == StepStatus.COMPLETE)
    current = [e for e in entries if e.superseded_by_id is None]
    within = sum(1 for e in current if e.limit_status == LimitStatus.WITHIN)
    views = [v for r in facts.signed for v in r.signatures]
    closed = sum(1 for d in facts.deviations if not d.is_open)
    conforming = sum(
        1 for s in facts.tests if s.test.required_for_release and s.state in (TestState.PASS, TestState.ALERT)
    )
    required = sum(1 for s in facts.tests if s.test.required_for_release)
    events = session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.lot_id == lot.id)) or 0
    return [
        ("Steps", f"{complete} of {len(lot.steps)} complete"),
        ("Entries", f"{len(current)} current values, {within} within limits"),
        ("Signatures", f"{sum(1 for v in views if v.valid)} valid of {len(views)}"),
        ("Deviations", f"{closed} of {len(facts.deviations)} closed"),
        ("QC tests required for release", f"{conforming} of {required} conform and are reviewed"),
        ("Audit trail", f"{events} events"),
    ]
