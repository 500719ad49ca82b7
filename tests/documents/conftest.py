"""Lots executed through the real services and disposed of by QA, so documents exist.

`build_dispositioned_lot` runs a whole template with the autopilot, corrects one value with a
reason, raises and closes a deviation, enters and reviews every required QC result, then QA
reviews and releases (or rejects) it: the documents are rendered once the decision committed.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from freezegun import freeze_time
from pypdf import PdfReader

from app.batches import services as batches
from app.batches.services import StepInput
from app.batches.simulate import Autopilot
from app.common.db import commit
from app.common.timeutil import utcnow
from app.deviations import services as deviations
from app.documents.models import Document, DocumentKind
from app.documents.services.pdf import ATTACHMENT_NAME
from app.qc import services as qc
from app.qc.models import SpecVersion
from app.qc.spec_schema import TestDef
from app.release import services as release
from tests.batches.conftest import SHORT, add_stock, make_effective, train
from tests.conftest import PASSWORD
from tests.qc.conftest import SHORT_SPEC, creds, result_input, store_effective

#: In SHORT-TEST: the viable cell count, corrected after the lot was executed.
SHORT_CORRECTION = ("UP2.OP1.S1", "viable_cells", "99.5")


@dataclass
class Released:
    lot: Any
    people: dict[str, Any]
    documents: dict[DocumentKind, Document]
    corrected: Any  # the correcting entry


def _people(make_user) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    roles = {"supervisor": ("supervisor", "Sam Supervisor"), "op1": ("operator", "Olivia Operator"),
             "op2": ("operator", "Oscar Verifier"), "analyst1": ("qc_analyst", "Quinn Analyst"),
             "analyst2": ("qc_analyst", "Ravi Reviewer"), "qa": ("qa", "Alex Quality")}  # fmt: skip
    return {key: make_user(role, full_name=name) for key, (role, name) in roles.items()}


def passing_value(test: TestDef) -> str:
    """A conforming result away from alert limits, as an analyst would type it."""
    if not test.is_numeric:
        return test.accepted[0]
    low = test.alert_min if test.alert_min is not None else test.min
    high = test.alert_max if test.alert_max is not None else test.max
    if low is not None and high is not None:
        value = (low + high) / 2
    elif low is not None:
        value = low + abs(low) / 20 + 1
    else:
        value = high / 2
    return str(value.quantize(Decimal(1).scaleb(-(test.decimals or 0))))


def _correct(db, people, lot, correction) -> Any:  # type: ignore[no-untyped-def]
    """Correct one value with a reason: (step, input, new value), or the first text entry."""
    if correction is None:
        definition = lot.template_version.definition
        entry = next(e for s in lot.steps for e in s.current_entries
                     if definition.step(s.step_code).input(e.input_name).type == "text")  # fmt: skip
        new, reason = entry.value_text + " Flask 2 re-checked.", "Observation incomplete: flask 2 was re-checked"
    else:
        step_code, name, new = correction
        step = next(s for s in lot.steps if s.step_code == step_code)
        entry = next(e for e in step.current_entries if e.input_name == name)
        reason = "Transcription error: counter printout reads " + new
    return batches.correct_entry(db, people["op1"], entry, StepInput(new), reason)


def _execute(db, people, lot, clock, correction) -> Any:  # type: ignore[no-untyped-def]
    """Run the lot, correct one value with a reason, sign again."""
    pilot = Autopilot(db, people["op1"], people["op2"], PASSWORD, clock.move_to)
    pilot.run(lot)
    corrected = _correct(db, people, lot, correction)
    db.commit()
    pilot.run(lot)
    return corrected


def _deviation_and_qc(db, people, lot) -> None:  # type: ignore[no-untyped-def]
    deviation = deviations.raise_manual(db, people["supervisor"], lot.id, "procedural", "minor",
                                        "Label printer jammed", "Labels reprinted; no impact on vials.")  # fmt: skip
    deviations.record_investigation(db, people["qa"], deviation, "Worn print head", "None", "CAPA-2026-7")
    deviations.close(db, people["qa"], deviation, creds(people["qa"]))
    for test in qc.spec_for_lot(db, lot).definition.required_tests:
        result = qc.enter_result(db, people["analyst1"], lot, result_input(test.code, passing_value(test)))
        qc.review_result(db, people["analyst2"], result, creds(people["analyst2"]))
    db.commit()


def build_dispositioned_lot(
    db,
    make_user,
    decision: str = "release",
    template: Path = SHORT,
    spec: Path = SHORT_SPEC,
    correction: tuple[str, str, str] | None = SHORT_CORRECTION,
) -> Released:  # type: ignore[no-untyped-def]
    people = _people(make_user)
    version = make_effective(db, template)
    store_effective(db, SpecVersion, spec)
    add_stock(db)
    for key in ("supervisor", "op1", "op2"):
        train(db, people[key], version.code)
    # A site with an ISBT 128 FIN: the lot gets a DIN, which its documents show.
    lot = batches.start_lot(db, people["supervisor"], version, "WCB-0042 vial 7", "{product}-{yyyy}-{seq:04d}",
                            fin="A9999")  # fmt: skip
    db.commit()
    with freeze_time(utcnow(), tick=True) as clock:
        corrected = _execute(db, people, lot, clock, correction)
        _deviation_and_qc(db, people, lot)
        qa = people["qa"]
        release.start_review(db, qa, lot)
        release.sign_review(db, qa, lot, creds(qa))
        db.commit()  # the decision is its own request (transaction), as in the app
        if decision == "release":
            release.release(db, qa, lot, creds(qa), "All records reviewed.")
        else:
            release.reject(db, qa, lot, creds(qa), "Viability trend outside the validated range.")
        commit(db)  # as the request does: the decision, then its documents rendered after the commit
    docs = {d.kind: d for d in db.query(Document).filter_by(lot_id=lot.id)}
    return Released(lot, people, docs, corrected)


@pytest.fixture
def released(db, make_user) -> Released:  # type: ignore[no-untyped-def]
    return build_dispositioned_lot(db, make_user)


def pdf_text(content: bytes) -> list[str]:
    """The text of each page."""
    return [page.extract_text() for page in PdfReader(io.BytesIO(content)).pages]


def attachment(content: bytes) -> dict[str, Any]:
    files = PdfReader(io.BytesIO(content)).attachments
    return json.loads(files[ATTACHMENT_NAME][0])
