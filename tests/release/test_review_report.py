"""Review by exception: first and only what needs a human, each linked to its record."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.audit import capture as audit
from app.audit.capture import Actor
from app.batches.models import Entry, LimitStatus
from app.deviations import services as deviations
from app.deviations.models import Category, Severity
from app.release import services as release
from app.release.facts import Target

pytestmark = pytest.mark.req("URS-REL-002")

SYSTEM = Actor.system("tests")


def test_a_clean_lot_has_no_exceptions_only_counts(lab, ready):
    report = release.exceptions(lab.db, ready)
    assert report.exceptions == [] and report.exception_count == 0
    summary = dict(report.summary)
    assert summary["Steps"] == "6 of 6 complete"
    assert summary["Entries"] == "6 current values, 6 within limits"
    assert summary["Signatures"] == "11 valid of 11"  # 6 performed, 2 verified, 3 QC reviews
    assert summary["QC tests required for release"] == "3 of 3 conform and are reviewed"
    assert report.refusals == ["QA has not signed the review of the lot record and its audit trail."]


def _add_entries(lab, lot):  # type: ignore[no-untyped-def]
    """A limit excursion, its correction, and a value recorded after the step was signed."""
    count = lab.step(lot, "UP2.OP1.S1")
    done = count.completed_at
    with audit.action(lab.db, "test.entries", SYSTEM, reason="test data"):
        low = Entry(lot_id=lot.id, step_record_id=count.id, input_name="viability", value_text="78.0", unit="%",
                    limit_status=LimitStatus.ACTION, limit_message="78.0 % is below the action limit 80.0 %",
                    entered_by_id=lab.op1.id, entered_at=done - timedelta(seconds=30))  # fmt: skip
        lab.db.add(low)
        lab.db.flush()
        fixed = Entry(lot_id=lot.id, step_record_id=count.id, input_name="viability", value_text="87.0", unit="%",
                      corrects_id=low.id, correction_reason="Transcription error", entered_by_id=lab.op1.id,
                      entered_at=done + timedelta(minutes=5))  # fmt: skip
        lab.db.add(fixed)
        lab.db.flush()
        low.superseded_by_id = fixed.id
        late = Entry(lot_id=lot.id, step_record_id=lab.step(lot, "UP2.OP1.S3").id, input_name="comment",
                     value_text="vials 12-14 re-labelled", entered_by_id=lab.op1.id,
                     entered_at=done + timedelta(minutes=10))  # fmt: skip
        lab.db.add(late)
    lab.db.commit()
    return count, low, fixed, late


def test_each_exception_category_lists_its_records(lab):
    lot = lab.lot()
    lab.pass_qc(lot, skip=("VIABILITY",))
    lab.review(lab.enter(lot, "VIABILITY", "91.0"))  # alert
    karyotype = lab.enter(lot, "KARYOTYPE", "Abnormal")  # OOS (opens an investigation)
    hold = deviations.open_deviation(lab.db, SYSTEM, lot.id, Category.HOLD_TIME, Severity.MAJOR,
                                     "Hold time exceeded", "Seeded 95 min after thaw.", automatic=True)  # fmt: skip
    lab.db.commit()
    count, low, fixed, late = _add_entries(lab, lot)
    report = release.exceptions(lab.db, lot)
    by_key = {c.key: c.items for c in report.exceptions}
    assert list(by_key) == ["limits", "corrections", "late", "deviations", "holds", "signatures", "qc"]
    assert [i.target for i in by_key["limits"]] == [Target("Entry", low.id, lot.id, count.id)]
    assert "(since corrected)" in by_key["limits"][0].detail
    assert by_key["corrections"][0].target.entity_id == fixed.id
    assert "was 78.0; reason: Transcription error" in by_key["corrections"][0].detail
    assert [i.target.entity_id for i in by_key["late"]] == [late.id]
    assert [i.title.startswith("DEV-") and i.blocking for i in by_key["deviations"]] == [True]  # the OOS one
    assert [i.target for i in by_key["holds"]] == [Target("Deviation", hold.id, lot.id)]
    invalid = {i.target.entity_id for i in by_key["signatures"] if i.blocking}
    assert invalid == {count.id, lab.step(lot, "UP2.OP1.S3").id}  # both steps' values changed
    qc_items = {i.title: i for i in by_key["qc"]}
    assert set(qc_items) == {"Viability: 91.0 %", "Karyotype (for information): Abnormal"}
    assert qc_items["Karyotype (for information): Abnormal"].target == Target("QCResult", karyotype.id, lot.id)
    assert any("Hold time exceeded" in r for r in report.refusals)
