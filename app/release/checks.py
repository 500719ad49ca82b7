"""Why a lot cannot be released yet: every reason, in the order QA works through them.

21 CFR 11.10(f), 211.192; EU GMP Annex 11 §9 (audit trail reviewed) and §15 (release).
"""

from __future__ import annotations

from app.batches.models import LotStatus, StepStatus
from app.common.timeutil import format_site
from app.release.facts import LotFacts, SignedRecord, Target, step_records


def step_problems(facts: LotFacts) -> list[tuple[Target | None, str]]:
    """Steps of the template that are not complete or lack a required signature."""
    lot = facts.lot
    records = step_records(lot)
    signed = {r.target.entity_id: r for r in facts.signed if r.target.entity_type == "StepRecord"}
    problems: list[tuple[Target | None, str]] = []
    for step_def in lot.template_version.definition.steps:
        name = f"Step {step_def.code} ({step_def.title})"
        record = records.get(step_def.code)
        if record is None:
            problems.append((None, f"{name} has no record in this lot."))
            continue
        target = Target("StepRecord", record.id, lot.id, record.id)
        if record.status != StepStatus.COMPLETE:
            problems.append((target, f"{name} is not complete ({record.status.replace('_', ' ')})."))
        meanings = {v.signature.meaning for v in signed[record.id].signatures}
        problems += [(target, f"{name} is not signed '{meaning}'.")
                     for meaning in step_def.signatures if meaning not in meanings]  # fmt: skip
    return problems


def invalid_signature_text(record: SignedRecord, view) -> str:  # type: ignore[no-untyped-def]
    """'Step X: the 'performed' signature of Name (date) is invalid: changed by ...'."""
    s = view.signature
    why = "the record changed after signing"
    if view.invalidated_by is not None:
        event = view.invalidated_by
        why = f"changed by {event.action} ({event.actor_name}, {format_site(event.occurred_at)})"
    return (f"{record.label}: the '{s.meaning}' signature of {s.signer_name} "
            f"({format_site(s.signed_at)}) is invalid: {why}.")  # fmt: skip


def _signature_reasons(facts: LotFacts) -> list[str]:
    return [invalid_signature_text(r, v) for r in facts.signed for v in r.blocking_invalid()]


def _deviation_reasons(facts: LotFacts) -> list[str]:
    return [f"Deviation {d.number} ({d.title}) is {d.status.replace('_', ' ')}; QA closes it first."
            for d in facts.deviations if d.is_open]  # fmt: skip


def _qc_reasons(facts: LotFacts) -> list[str]:
    if facts.qc_problem:
        return [facts.qc_problem]
    return [reason for status in facts.tests if status.blocking for reason in status.reasons]


def review_reasons(facts: LotFacts) -> list[str]:
    """The audit trail review must be signed and still valid (Annex 11 §9)."""
    state = facts.review
    if state.signature is None:
        return ["QA has not signed the review of the lot record and its audit trail."]
    if state.valid:
        return []
    s = state.signature.signature
    first = state.changes[0] if state.changes else None
    what = f"; first change: {first.action} by {first.actor_name} at {format_site(first.occurred_at)}" if first else ""
    return [f"The review signed by {s.signer_name} ({format_site(s.signed_at)}) is invalid: the lot record "
            f"changed {len(state.changes)} time(s) since{what}. Review the lot again."]  # fmt: skip


def status_reasons(facts: LotFacts) -> list[str]:
    lot = facts.lot
    if lot.status == LotStatus.UNDER_REVIEW:
        return []
    return [f"Lot {lot.lot_number} is {lot.status.replace('_', ' ')}, not under review."]


def refusals(facts: LotFacts) -> list[str]:
    """Every reason the lot cannot be released now (empty: it can)."""
    return [
        *status_reasons(facts),
        *(text for _, text in step_problems(facts)),
        *_signature_reasons(facts),
        *_deviation_reasons(facts),
        *_qc_reasons(facts),
        *review_reasons(facts),
    ]
