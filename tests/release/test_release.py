"""Disposition: every release refusal reason, separation of duties, review validity, reject."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.audit import capture as audit
from app.audit.capture import Actor
from app.batches.models import Entry, LotStatus, StepStatus
from app.common.errors import NotPermitted, RuleViolation
from app.deviations import services as deviations
from app.deviations.models import Category, Deviation, Severity
from app.release import services as release
from app.release.facts import current_review
from app.release.models import Decision, Disposition
from app.signatures.models import Signature
from app.signatures.services import signatures_of
from tests.release.conftest import creds, sign_review

SYSTEM = Actor.system("tests")


def _reasons(lab, lot, signer=None) -> list[str]:  # type: ignore[no-untyped-def]
    lab.db.expire_all()
    return release.release_refusals(lab.db, lot, signer)


def _only(lab, lot, *fragments: str) -> None:  # type: ignore[no-untyped-def]
    """The lot is refused release for exactly these reasons (one fragment per reason)."""
    reasons = _reasons(lab, lot)
    assert len(reasons) == len(fragments), reasons
    for reason, fragment in zip(reasons, fragments, strict=True):
        assert fragment in reason, reasons


@pytest.mark.req("URS-REL-003")
def test_a_complete_reviewed_lot_is_released_with_a_signature(lab, ready):
    review = sign_review(lab, ready)
    assert _reasons(lab, ready) == []
    disposition = release.release(lab.db, lab.qa2, ready, creds(lab.qa2), "Meets specification")
    lab.db.commit()
    assert (ready.status, disposition.decision, disposition.review_id) == (
        LotStatus.RELEASED,
        Decision.RELEASED,
        review.id,
    )
    assert ready.dispositioned_at == disposition.decided_at and not ready.quarantined
    [view] = signatures_of(lab.db, disposition)
    assert (view.valid, view.signature.meaning, view.signature.signer_id) == (True, "released", lab.qa2.id)
    assert current_review(lab.db, ready).valid  # the decision itself does not invalidate the review
    _only(lab, ready, "is released, not under review")


@pytest.mark.req("URS-REL-001")
def test_release_is_refused_before_the_review_started(lab):
    lot = lab.lot()
    lab.pass_qc(lot)
    _only(lab, lot, "is executed, not under review", "QA has not signed the review")


@pytest.mark.req("URS-REL-001")
def test_release_is_refused_while_a_step_is_incomplete(lab, ready):
    with audit.action(lab.db, "test.step_reopened", SYSTEM):
        lab.step(ready, "UP2.OP1.S3").status = StepStatus.IN_PROGRESS
    sign_review(lab, ready)
    _only(lab, ready, "Step UP2.OP1.S3 (Fill vials) is not complete (in progress).")


@pytest.mark.req("URS-REL-001")
def test_release_is_refused_while_a_step_is_not_signed_performed(lab):
    lot = lab.lot(unsigned=("UP1.OP1.S3",))
    lab.pass_qc(lot)
    release.start_review(lab.db, lab.qa1, lot)
    sign_review(lab, lot)
    _only(
        lab,
        lot,
        "Step UP1.OP1.S3 (Warm medium) is not complete",
        "Step UP1.OP1.S3 (Warm medium) is not signed 'performed'.",
    )


@pytest.mark.req("URS-REL-001", "URS-EXE-009")
def test_release_is_refused_while_a_critical_step_is_not_verified(lab):
    lot = lab.lot(unverified=("UP2.OP1.S1",))
    lab.pass_qc(lot)
    release.start_review(lab.db, lab.qa1, lot)
    sign_review(lab, lot)
    _only(lab, lot, "Step UP2.OP1.S1 (Count cells) is not complete (awaiting verification)",
          "Step UP2.OP1.S1 (Count cells) is not signed 'verified'.")  # fmt: skip


@pytest.mark.req("URS-REL-001", "URS-SIG-006")
def test_release_is_refused_while_a_signature_is_invalid(lab, ready):
    step = lab.step(ready, "UP1.OP1.S1")
    with audit.action(lab.db, "test.value_added", SYSTEM):
        lab.db.add(Entry(lot_id=ready.id, step_record_id=step.id, input_name="started_at",
                         value_text="2026-11-25 08:00", entered_by_id=lab.op1.id))  # fmt: skip
    lab.db.commit()
    sign_review(lab, ready)
    _only(lab, ready, "Step UP1.OP1.S1: the 'performed' signature of")
    assert "is invalid: changed by test.value_added" in _reasons(lab, ready)[0]


@pytest.mark.req("URS-REL-001")
def test_release_is_refused_while_a_deviation_is_open(lab, ready):
    deviation = deviations.open_deviation(lab.db, SYSTEM, ready.id, Category.PROCEDURAL, Severity.MINOR,
                                          "Late label check", "Label check done 10 min late.")  # fmt: skip
    lab.db.commit()
    sign_review(lab, ready)
    _only(lab, ready, f"Deviation {deviation.number} (Late label check) is open; QA closes it first.")


@pytest.mark.req("URS-REL-001", "URS-DOC-005")
def test_release_is_refused_while_a_required_result_is_missing(lab):
    lot = lab.lot()
    lab.pass_qc(lot, skip=("ENDOTOXIN",))
    release.start_review(lab.db, lab.qa1, lot)
    sign_review(lab, lot)
    _only(lab, lot, "Bacterial endotoxins: no result yet.")


@pytest.mark.req("URS-REL-001", "URS-QC-006")
def test_release_is_refused_while_a_result_is_not_reviewed(lab):
    lot = lab.lot()
    lab.pass_qc(lot, skip=("STERILITY",))
    lab.enter(lot, "STERILITY", "No growth")
    release.start_review(lab.db, lab.qa1, lot)
    sign_review(lab, lot)
    _only(lab, lot, "Sterility: result No growth is not reviewed by a second QC analyst.")


@pytest.mark.req("URS-REL-001")
def test_release_is_refused_while_a_result_is_out_of_specification(lab):
    lot = lab.lot()
    lab.pass_qc(lot, skip=("VIABILITY",))
    lab.review(lab.enter(lot, "VIABILITY", "90.04"))
    release.start_review(lab.db, lab.qa1, lot)
    sign_review(lab, lot)
    number = lab.db.scalar(select(Deviation.number).where(Deviation.category == Category.OOS))
    _only(lab, lot, f"Deviation {number} (OOS: Viability 90.0 %",
          f"Viability: out of specification (90.0 %; OOS investigation {number}).")  # fmt: skip


@pytest.mark.req("URS-REL-001", "URS-REL-002")
def test_release_is_refused_until_the_review_is_signed(lab, ready):
    _only(lab, ready, "QA has not signed the review of the lot record and its audit trail.")


@pytest.mark.req("URS-REL-002")
def test_a_later_change_invalidates_the_review_signature(lab, ready):
    review = sign_review(lab, ready)
    lab.enter(ready, "KARYOTYPE", "Normal")  # not required, but it changes the lot's record
    state = current_review(lab.db, ready)
    assert not state.valid and [e.action for e in state.changes] == ["qc.result_entered"]
    assert state.signature.invalidated_by.action == "qc.result_entered"
    _only(lab, ready, f"The review signed by {lab.qa1.full_name}")
    assert "changed 1 time(s) since; first change: qc.result_entered" in _reasons(lab, ready)[0]
    again = sign_review(lab, ready, lab.qa2)
    assert again.id != review.id and current_review(lab.db, ready).valid
    assert _reasons(lab, ready) == []


@pytest.mark.req("URS-REL-002")
def test_a_refused_signature_does_not_invalidate_the_review(lab, ready):
    sign_review(lab, ready)
    wrong = creds(lab.qa2).__class__("wrong-password", lab.qa2.username, True, True)
    with pytest.raises(RuleViolation):
        from app.common.db import unit_of_work

        with unit_of_work(lab.db):
            release.release(lab.db, lab.qa2, ready, wrong)
    assert lab.db.scalar(select(func.count()).select_from(Disposition)) == 0
    assert current_review(lab.db, ready).valid


@pytest.mark.req("URS-REL-001")
def test_every_reason_is_listed_at_once(lab):
    lot = lab.lot(unsigned=("UP1.OP1.S3",))
    lab.pass_qc(lot, skip=("STERILITY", "ENDOTOXIN"))
    lab.enter(lot, "STERILITY", "No growth")
    deviations.open_deviation(lab.db, SYSTEM, lot.id, Category.OTHER, Severity.MINOR, "Spill", "Medium spilled.")
    lab.db.commit()
    reasons = _reasons(lab, lot)
    assert len(reasons) == 7, reasons
    for fragment in ("is executed, not under review", "UP1.OP1.S3 (Warm medium) is not complete",
                     "is not signed 'performed'", "(Spill) is open", "Sterility: result No growth is not reviewed",
                     "Bacterial endotoxins: no result yet", "QA has not signed the review"):  # fmt: skip
        assert any(fragment in r for r in reasons), fragment
    with pytest.raises(RuleViolation) as refused:
        release.release(lab.db, lab.qa2, lot, creds(lab.qa2))
    assert refused.value.reasons == reasons and lot.status == LotStatus.EXECUTED


@pytest.mark.req("URS-REL-003", "URS-SIG-007")
def test_a_qa_user_who_performed_a_step_cannot_release_the_lot(lab, make_user):
    qa_operator = make_user("qa", "operator")
    lot = lab.lot(performer=qa_operator)
    lab.pass_qc(lot)
    release.start_review(lab.db, lab.qa1, lot)
    sign_review(lab, lot)
    assert _reasons(lab, lot) == []
    separation = "You performed step UP1.OP1.S1 of this lot: another QA person must release or reject it"
    assert [separation in r for r in _reasons(lab, lot, qa_operator)] == [True]
    for decide in (release.release, release.reject):
        with pytest.raises(RuleViolation) as refused:
            decide(lab.db, qa_operator, lot, creds(qa_operator), "comment")
        assert any(separation in r for r in refused.value.reasons)
    signers = {qa_operator.id, lab.op1.id, lab.op2.id}
    disposition = Disposition(lot_id=lot.id, decision=Decision.RELEASED, decided_by_id=qa_operator.id)
    with lab.db.no_autoflush:  # the signing rule itself excludes every performer and verifier
        lab.db.add(disposition)
        assert set(disposition.signature_rule("released").excluded) == signers
        lab.db.expunge(disposition)
    release.release(lab.db, lab.qa1, lot, creds(lab.qa1))
    assert lot.status == LotStatus.RELEASED


@pytest.mark.req("URS-REL-003")
def test_reject_needs_a_comment_and_takes_a_failed_lot(lab):
    lot = lab.lot()
    lab.pass_qc(lot, skip=("VIABILITY",))
    lab.enter(lot, "VIABILITY", "85.0")  # OOS, investigation open
    release.start_review(lab.db, lab.qa1, lot)
    lab.db.commit()
    with pytest.raises(RuleViolation) as refused:
        release.reject(lab.db, lab.qa1, lot, creds(lab.qa1), "  ")
    assert refused.value.reasons == ["A rejection needs a comment saying why the lot is rejected."]
    disposition = release.reject(lab.db, lab.qa1, lot, creds(lab.qa1), "Viability OOS confirmed")
    lab.db.commit()
    assert (lot.status, disposition.decision, disposition.comment) == (LotStatus.REJECTED, Decision.REJECTED,
                                                                       "Viability OOS confirmed")  # fmt: skip
    signature = lab.db.scalar(select(Signature).where(Signature.entity_type == "Disposition"))
    assert (signature.meaning, signature.comment) == ("rejected", "Viability OOS confirmed")
    with pytest.raises(RuleViolation) as again:
        release.reject(lab.db, lab.qa2, lot, creds(lab.qa2), "again")
    assert again.value.reasons == [f"Lot {lot.lot_number} is rejected, not under review."]


@pytest.mark.req("URS-REL-002")
def test_review_workflow_rules(lab, ready):
    with pytest.raises(NotPermitted):
        release.sign_review(lab.db, lab.analyst1, ready, creds(lab.analyst1))
    with pytest.raises(RuleViolation, match="is under review; its review starts once it is executed"):
        release.start_review(lab.db, lab.qa1, ready)
    sign_review(lab, ready)
    with pytest.raises(RuleViolation, match="already reviewed and nothing changed since"):
        release.sign_review(lab.db, lab.qa2, ready, creds(lab.qa2))
    with pytest.raises(NotPermitted):
        release.release(lab.db, lab.op1, ready, creds(lab.op1))
    in_progress = lab.lot(status=LotStatus.IN_PROGRESS)
    with pytest.raises(RuleViolation, match="is in progress"):
        release.start_review(lab.db, lab.qa1, in_progress)


@pytest.mark.req("URS-REL-005", "URS-DAT-002")
def test_the_disposition_hooks_run_in_the_decision_transaction(lab, ready, monkeypatch):
    calls = []

    def hook(session, lot, qa):  # type: ignore[no-untyped-def]
        calls.append((lot.status, qa.id, session.scalar(select(func.count()).select_from(Disposition))))

    monkeypatch.setattr(release, "DISPOSITION_HOOKS", [hook])
    sign_review(lab, ready)
    release.release(lab.db, lab.qa2, ready, creds(lab.qa2))
    assert calls == [(LotStatus.RELEASED, lab.qa2.id, 1)]
