"""Fixtures for QC results and release: realistic lots built directly, fast.

`lab` holds two operators, two QC analysts, two QA users, the Effective SHORT-TEST template
and its test specification, and builds executed lots whose steps are signed through the real
signing ceremony. (Whole lots executed through the batch services are the lead's tests.)
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from app.audit import capture as audit
from app.audit.capture import Actor
from app.batches.models import Entry, Lot, LotStatus, StepRecord, StepStatus
from app.common.timeutil import site_today, utcnow
from app.common.yamlfile import sha256_text
from app.deviations import services as deviations
from app.deviations.models import Deviation
from app.mbr.models import TemplateVersion
from app.mbr.schema import parse_template
from app.mbr.versioning import DefinitionStatus
from app.qc import services as qc
from app.qc.models import QCResult, SpecVersion
from app.qc.spec_schema import parse_spec
from app.signatures.services import Credentials, sign
from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
SHORT_TEMPLATE = ROOT / "tests/data/templates/SHORT-TEST.v1.yaml"
SHORT_SPEC = ROOT / "tests/data/specs/SHORT-TEST.v1.yaml"
XS411_TEMPLATE = ROOT / "batch_templates/XS411-DA-NPC.v1.yaml"
XS411_SPEC = ROOT / "qc_specs/XS411-DA-NPC.v1.yaml"
SYSTEM = Actor.system("tests")
#: Conforming results for the required tests of the SHORT-TEST specification.
PASSING = {"VIABILITY": "95.0", "STERILITY": "No growth", "ENDOTOXIN": "<LOQ"}
_numbers = itertools.count(1)


def creds(user: Any) -> Credentials:
    """What the user types in the signing dialog (username, password, policy accepted)."""
    return Credentials(PASSWORD, user.username, True, True, "127.0.0.1")


def store_effective(db, model: type, path: Path, text: str | None = None, name: str | None = None) -> Any:  # type: ignore[no-untyped-def]
    """Store a template or specification file as an Effective version (lifecycle tested elsewhere)."""
    text, name = (path.read_text() if text is None else text), name or path.name
    definition = (parse_spec if model is SpecVersion else parse_template)(text, name)
    row = model(code=definition.code, version=definition.version, revision=1, title=definition.title,
                product=definition.product, status=DefinitionStatus.EFFECTIVE, source_file=name,
                source_text=text, source_sha256=sha256_text(text), loaded_by_name="tests",
                effective_from=utcnow())  # fmt: skip
    with audit.action(db, "test.definition_effective", SYSTEM):
        db.add(row)
    return row


def result_input(test_code: str, reported: str, /, sample: str = "QC-S-001", **changes: Any) -> qc.ResultInput:
    values = {"test_code": test_code, "sample_id": sample, "method": "", "instrument": "INSTR-01",
              "tested_on": site_today() - timedelta(days=1), "reported_text": reported} | changes  # fmt: skip
    return qc.ResultInput(**values)


@dataclass
class Lab:
    db: Any
    op1: Any
    op2: Any
    analyst1: Any
    analyst2: Any
    qa1: Any
    qa2: Any
    template: TemplateVersion
    spec: SpecVersion
    first_performer: Any = None

    def lot(self, *, template: TemplateVersion | None = None, status: LotStatus = LotStatus.EXECUTED,
            steps: bool = True, unsigned: tuple[str, ...] = (), unverified: tuple[str, ...] = (),
            performer: Any = None) -> Lot:  # fmt: skip
        """A lot on the template; with `steps`, every step recorded and signed unless listed.

        `performer` performs (and signs) the first step instead of the first operator."""
        template = template or self.template
        self.first_performer = performer or self.op1
        now = utcnow()
        lot = Lot(lot_number=f"T-{next(_numbers):05d}", product=template.product, template_version_id=template.id,
                  started_by_id=self.op1.id, status=status, starting_material="WCB-0042 vial 7",
                  executed_at=now if status != LotStatus.IN_PROGRESS else None)  # fmt: skip
        lot.template_version = template
        with audit.action(self.db, "test.lot_built", SYSTEM):
            self.db.add(lot)
            self.db.flush()
            if steps:
                self._steps(lot, now, unsigned, unverified)
        if steps:
            self._sign_steps(lot, unsigned, unverified)
        self.db.commit()
        return lot

    def _steps(self, lot: Lot, now: Any, unsigned: tuple[str, ...], unverified: tuple[str, ...]) -> None:
        for seq, step_def in enumerate(lot.template_version.definition.steps, start=1):
            done = step_def.code not in unsigned
            verified = step_def.critical and done and step_def.code not in unverified
            status = (StepStatus.IN_PROGRESS if not done else StepStatus.AWAITING_VERIFICATION
                      if step_def.critical and not verified else StepStatus.COMPLETE)  # fmt: skip
            performer = self.first_performer if seq == 1 else self.op1
            record = StepRecord(lot_id=lot.id, step_code=step_def.code, seq=seq, status=status,
                                started_at=now - timedelta(minutes=5), completed_at=now if done else None,
                                performed_by_id=performer.id if done else None,
                                verified_by_id=self.op2.id if verified else None)  # fmt: skip
            self.db.add(record)
            self.db.flush()
            self.db.add(Entry(lot_id=lot.id, step_record_id=record.id, input_name=step_def.inputs[0].name,
                              value_text="recorded", entered_by_id=self.op1.id,
                              entered_at=now - timedelta(minutes=1)))  # fmt: skip
        self.db.flush()
        self.db.expire(lot, ["steps"])

    def _sign_steps(self, lot: Lot, unsigned: tuple[str, ...], unverified: tuple[str, ...]) -> None:
        definition = lot.template_version.definition
        for step in lot.steps:
            if step.step_code in unsigned:
                continue
            performer = self.first_performer if step.seq == 1 else self.op1
            sign(self.db, performer, step, "performed", creds(performer))
            if definition.step(step.step_code).critical and step.step_code not in unverified:
                sign(self.db, self.op2, step, "verified", creds(self.op2))

    def step(self, lot: Lot, code: str) -> StepRecord:
        return next(s for s in lot.steps if s.step_code == code)

    def enter(self, lot: Lot, test_code: str, reported: str, analyst: Any = None, **changes: Any) -> QCResult:
        result = qc.enter_result(self.db, analyst or self.analyst1, lot, result_input(test_code, reported, **changes))
        self.db.commit()
        return result

    def review(self, result: QCResult, reviewer: Any = None) -> None:
        qc.review_result(self.db, reviewer or self.analyst2, result, creds(reviewer or self.analyst2))
        self.db.commit()

    def pass_qc(self, lot: Lot, skip: tuple[str, ...] = ()) -> list[QCResult]:
        """Enter and review conforming results for every required test not in `skip`."""
        results = [self.enter(lot, code, text) for code, text in PASSING.items() if code not in skip]
        for result in results:
            self.review(result)
        return results

    def close(self, deviation: Deviation, qa: Any = None) -> None:
        qa = qa or self.qa2
        deviations.record_investigation(self.db, qa, deviation, "Root cause found", "No impact", "CAPA-1")
        deviations.close(self.db, qa, deviation, creds(qa))
        self.db.commit()


@pytest.fixture
def lab(db, make_user) -> Lab:  # type: ignore[no-untyped-def]
    return build_lab(db, make_user)


def build_lab(db, make_user) -> Lab:  # type: ignore[no-untyped-def]
    """Six people with their roles, the Effective SHORT-TEST template and specification."""
    people = [make_user(*roles) for roles in (("operator",), ("operator",), ("qc_analyst",), ("qc_analyst",),
                                              ("qa",), ("qa",))]  # fmt: skip
    template = store_effective(db, TemplateVersion, SHORT_TEMPLATE)
    spec = store_effective(db, SpecVersion, SHORT_SPEC)
    db.commit()
    return Lab(db, *people, template, spec)
