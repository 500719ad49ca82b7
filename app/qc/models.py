"""Stored QC specification versions (same lifecycle as master batch records) and QC results."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.audit.capture import Auditable
from app.auth.roles import QC_ANALYST
from app.common.models import str_enum
from app.common.timeutil import utcnow
from app.extensions import db
from app.mbr.versioning import VersionedDefinition
from app.qc.evaluation import ALERT, FAIL, PASS
from app.qc.spec_schema import SpecDef, TestDef, parse_spec
from app.signatures.services import SignatureRule


class SpecVersion(VersionedDefinition, Auditable, db.Model):
    """One version (and revision) of a release specification; lots are tested against it."""

    __tablename__ = "qc_spec_versions"
    __table_args__ = (UniqueConstraint("code", "version", "revision"),)

    @property
    def definition(self) -> SpecDef:
        return self._parsed(parse_spec)


class ResultStatus(enum.StrEnum):
    PASS = PASS
    ALERT = ALERT
    FAIL = FAIL  #: out of specification: an OOS investigation is opened with it


class QCResult(Auditable, db.Model):
    """One reported QC result of a lot (21 CFR 211.194(a)); never changed after entry.

    A retest is a new result linked by `retest_of_id`; the original stays on record. The
    spec version is the one bound to the lot when its first result was entered.
    """

    __tablename__ = "qc_results"
    __table_args__ = (
        # One first result per test and lot; each result retested at most once: a linear chain.
        Index("uq_qc_results_first_result", "lot_id", "test_code", unique=True,
              sqlite_where=text("retest_of_id IS NULL"), postgresql_where=text("retest_of_id IS NULL")),
    )  # fmt: skip
    __audit_workflow_fields__ = frozenset({"reviewed_by_id", "reviewed_at"})

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"), index=True)
    spec_version_id: Mapped[int] = mapped_column(ForeignKey("qc_spec_versions.id"))
    test_code: Mapped[str] = mapped_column(String(40))
    sample_id: Mapped[str] = mapped_column(String(60))
    method: Mapped[str] = mapped_column(String(300))
    instrument: Mapped[str] = mapped_column(String(120))
    tested_on: Mapped[date]
    #: Exactly what the analyst entered: the record of truth.
    reported_text: Mapped[str] = mapped_column(Text)
    #: The value rounded per USP 7.20 to the test's decimals; None for text and "<x" results.
    reported_value: Mapped[Decimal | None]
    #: As printed on the CoA, e.g. "97.9 %", "<LOQ (0.01 %)", "No growth".
    result_text: Mapped[str] = mapped_column(Text)
    status: Mapped[ResultStatus] = mapped_column(str_enum(ResultStatus))
    explanation: Mapped[str] = mapped_column(Text)
    analyst_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    entered_at: Mapped[datetime] = mapped_column(default=utcnow)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None]
    retest_of_id: Mapped[int | None] = mapped_column(ForeignKey("qc_results.id"), unique=True)

    spec_version: Mapped[SpecVersion] = relationship(lazy="joined")

    @property
    def audit_lot_id(self) -> int | None:
        return self.lot_id

    @property
    def test(self) -> TestDef:
        return self.spec_version.definition.test(self.test_code)

    def signed_content(self) -> dict[str, Any]:
        """What the reviewer signs: everything the analyst recorded and its evaluation."""
        return {"lot_id": self.lot_id, "spec_version_id": self.spec_version_id,
                "test_code": self.test_code, "sample_id": self.sample_id, "method": self.method,
                "instrument": self.instrument, "tested_on": self.tested_on,
                "reported_text": self.reported_text, "reported_value": self.reported_value,
                "result_text": self.result_text, "status": self.status,
                "analyst_id": self.analyst_id, "retest_of_id": self.retest_of_id}  # fmt: skip

    def signature_rule(self, meaning: str) -> SignatureRule:
        if meaning != "reviewed":
            return SignatureRule(frozenset())
        return SignatureRule(
            frozenset({QC_ANALYST}),
            {self.analyst_id: "A second QC analyst reviews a result, never the analyst who entered it."},
        )
