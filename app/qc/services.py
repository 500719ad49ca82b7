"""QC results: entry, second-analyst review, OOS investigations, retests, release status.

Decisions (issue #7 point 3):
- The specification of a lot is the Effective SpecVersion whose `product` is the lot's
  master batch record code, taken when the lot's first result is entered; every result stores
  its spec_version_id and later results use the same version, so a spec change mid-testing
  never mixes two versions in one lot's record.
- Results are never changed (database trigger): a result is entered once per test; a new
  result for that test is only a retest of an out-of-specification result, linked by
  `retest_of_id`, so each test's results form one chain whose last member counts.
- A failing result opens an automatic OOS deviation in the same transaction (one per failing
  result). A passing retest counts for release only once every OOS investigation of its chain
  is closed by QA (no testing into compliance, FDA OOS guidance 2022).
"""

from __future__ import annotations

import enum
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit import capture as audit
from app.audit.capture import Actor
from app.auth.models import User
from app.auth.permissions import require_roles
from app.auth.roles import QC_ANALYST
from app.batches.models import QUARANTINED, Lot
from app.common.db import lock_row, refuse_concurrent
from app.common.errors import NotFound, RuleViolation
from app.common.timeutil import site_today, utcnow
from app.deviations.models import Category, Deviation, Severity
from app.deviations.services import open_deviation
from app.mbr.services import in_force_at
from app.qc.evaluation import ResultError, evaluate
from app.qc.models import QCResult, ResultStatus, SpecVersion
from app.qc.spec_schema import TestDef
from app.signatures.services import Credentials, SignatureView, has_valid, sign, signatures_of, signatures_of_many

_CONCURRENT = "Another result for this test was entered at the same time; reload the lot's results."
_CHAIN_CONSTRAINTS = ("uq_qc_results", "qc_results.lot_id", "qc_results.retest_of_id")


@dataclass(frozen=True)
class ResultInput:
    """What the analyst reports for one test, as typed."""

    test_code: str
    sample_id: str
    method: str
    instrument: str
    tested_on: date | None
    reported_text: str


class TestState(enum.StrEnum):
    __test__ = False  # not a pytest class

    MISSING = "missing"
    UNREVIEWED = "unreviewed"
    PASS = "pass"  # noqa: S105 - a verdict, not a password
    ALERT = "alert"
    FAIL = "fail"  #: out of specification (OOS)
    OOS_OPEN = "oos_open"  #: the retest conforms but an OOS investigation is still open


@dataclass(frozen=True)
class TestStatus:
    """Where one test of a lot stands for release, with every reason it blocks release."""

    __test__ = False

    test: TestDef
    state: TestState
    results: tuple[QCResult, ...]  #: the test's chain, oldest first
    reasons: tuple[str, ...] = ()

    @property
    def latest(self) -> QCResult | None:
        return self.results[-1] if self.results else None

    @property
    def blocking(self) -> bool:
        """Whether it stands in the way of release (only tests required for release do)."""
        return self.test.required_for_release and bool(self.reasons)


def get_result(session: Session, result_id: int) -> QCResult:
    result = session.get(QCResult, result_id)
    if result is None:
        raise NotFound("No such QC result.")
    return result


def results_for_lot(session: Session, lot_id: int) -> list[QCResult]:
    """Every result of the lot, retests included, in order of entry."""
    return list(session.scalars(select(QCResult).where(QCResult.lot_id == lot_id).order_by(QCResult.id)))


def spec_for_lot(session: Session, lot: Lot) -> SpecVersion:
    """The spec version bound to the lot by its first result, else the one in force now: an
    Effective version scheduled for a later date does not apply yet (as for master batch records)."""
    bound = session.scalar(
        select(QCResult.spec_version_id).where(QCResult.lot_id == lot.id).order_by(QCResult.id).limit(1)
    )
    if bound is not None:
        return session.get_one(SpecVersion, bound)
    product = lot.template_version.code
    spec = session.scalar(
        select(SpecVersion)
        .where(SpecVersion.product == product, in_force_at(SpecVersion, utcnow()))
        .order_by(SpecVersion.effective_from.desc()).limit(1)
    )  # fmt: skip
    if spec is None:
        raise RuleViolation(f"No Effective QC specification for product {product}: QA must make one "
                            "effective before results are entered.")  # fmt: skip
    return spec


def _check_lot_open(lot: Lot) -> None:
    if not lot.quarantined:
        raise RuleViolation(f"Lot {lot.lot_number} is {lot.status}; its QC record is closed.")


def _check_input(test: TestDef, data: ResultInput) -> None:
    """Refuse a result without the identification 21 CFR 211.194(a) requires."""
    problems = [message for ok, message in (
        ((data.sample_id or "").strip(), "Enter the sample ID."),
        (len((data.sample_id or "").strip()) <= 60, "The sample ID has at most 60 characters."),
        ((data.instrument or "").strip(), "Enter the instrument (or equipment) ID."),
        (data.tested_on is not None, "Enter the date of the test."),
        (data.tested_on is None or data.tested_on <= site_today(), "The test date is in the future."),
    ) if not ok]  # fmt: skip
    if problems:
        raise RuleViolation(f"{test.name}: the result is incomplete.", reasons=problems, status=400)


def enter_result(
    session: Session, analyst: User, lot: Lot, data: ResultInput, retest_of: QCResult | None = None
) -> QCResult:
    """Evaluate and record a result; an OOS result opens an OOS investigation at once."""
    require_roles(analyst, (QC_ANALYST,), "enter QC results")
    _check_lot_open(lot)
    spec = session.get_one(SpecVersion, retest_of.spec_version_id) if retest_of else spec_for_lot(session, lot)
    try:
        test = spec.definition.test((data.test_code or "").strip())
    except KeyError:
        raise RuleViolation(f"{spec.label} has no test {data.test_code!r}.", status=400) from None
    _check_input(test, data)
    if retest_of is None and _chain(session, lot.id, test.code):
        raise RuleViolation(f"{test.name} already has a result; a new result is entered only as a "
                            "retest of an out-of-specification result.")  # fmt: skip
    try:
        evaluation = evaluate(test, data.reported_text or "")
    except ResultError as exc:
        raise RuleViolation(exc.message, status=400) from None
    result = QCResult(
        lot_id=lot.id, spec_version_id=spec.id, test_code=test.code, sample_id=data.sample_id.strip(),
        method=(data.method or "").strip() or test.method, instrument=data.instrument.strip(),
        tested_on=data.tested_on, reported_text=data.reported_text, result_text=evaluation.reported_text,
        reported_value=evaluation.reported_value, status=ResultStatus(evaluation.status),
        explanation=evaluation.explanation, analyst_id=analyst.id, entered_at=utcnow(),
        retest_of_id=retest_of.id if retest_of else None,
    )  # fmt: skip
    with refuse_concurrent(_CONCURRENT, *_CHAIN_CONSTRAINTS):
        with audit.action(session, "qc.result_retested" if retest_of else "qc.result_entered",
                          Actor.of(analyst), test=test.code):  # fmt: skip
            session.add(result)
    if result.status == ResultStatus.FAIL:
        _open_oos(session, analyst, lot, spec, test, result)
    return result


def _open_oos(
    session: Session, analyst: User, lot: Lot, spec: SpecVersion, test: TestDef, result: QCResult
) -> Deviation:
    """Open the OOS investigation of a failing result (21 CFR 211.192)."""
    what = "retest" if result.retest_of_id else "result"
    return open_deviation(
        session, Actor.of(analyst), lot.id, Category.OOS, Severity.MAJOR,
        f"OOS: {test.name} {result.result_text} (lot {lot.lot_number})",
        f"{test.name} ({test.code}) {what} {result.reported_text!r} for sample {result.sample_id}, "
        f"{spec.label}: {result.explanation}.",
        automatic=True, qc_result_id=result.id,
    )  # fmt: skip


def retest(session: Session, analyst: User, original: QCResult, data: ResultInput) -> QCResult:
    """Record a retest of an OOS result as a new result; the original stays on record."""
    if original.status != ResultStatus.FAIL:
        raise RuleViolation("Only an out-of-specification result is retested (no testing into "
                            "compliance).")  # fmt: skip
    chain = _chain(session, original.lot_id, original.test_code)
    if chain[-1].id != original.id:
        raise RuleViolation(f"Result #{original.id} was already retested (result #{chain[-1].id}); "
                            "retest the latest result.")  # fmt: skip
    lot = session.get_one(Lot, original.lot_id)
    return enter_result(session, analyst, lot, _with_test(data, original.test_code), retest_of=original)


def _with_test(data: ResultInput, test_code: str) -> ResultInput:
    return ResultInput(test_code, data.sample_id, data.method, data.instrument, data.tested_on,
                       data.reported_text)  # fmt: skip


def is_reviewed(session: Session, result: QCResult) -> bool:
    """Whether a second analyst's review signature on the result is valid."""
    return has_valid(signatures_of(session, result), "reviewed")


def review_result(
    session: Session, reviewer: User, result: QCResult, credentials: Credentials,
    comment: str | None = None,
) -> None:  # fmt: skip
    """A second QC analyst reviews a result with an e-signature (never its analyst)."""
    _check_lot_open(session.get_one(Lot, result.lot_id))
    lock_row(session, result)  # two reviewers at once: the second sees the first's signature
    if is_reviewed(session, result):
        raise RuleViolation(f"Result #{result.id} is already reviewed.")
    sign(session, reviewer, result, "reviewed", credentials, comment)
    with audit.action(session, "qc.result_reviewed", Actor.of(reviewer), test=result.test_code):
        result.reviewed_by_id = reviewer.id
        result.reviewed_at = utcnow()


def oos_deviations(session: Session, lot_id: int) -> dict[int, Deviation]:
    """The OOS investigation of each failing result of the lot, by result id."""
    rows = session.scalars(select(Deviation).where(Deviation.lot_id == lot_id, Deviation.qc_result_id.is_not(None)))
    return {d.qc_result_id: d for d in rows if d.qc_result_id is not None}


def _chain(session: Session, lot_id: int, test_code: str) -> list[QCResult]:
    return list(session.scalars(
        select(QCResult).where(QCResult.lot_id == lot_id, QCResult.test_code == test_code).order_by(QCResult.id)
    ))  # fmt: skip


def statuses_for_lot(session: Session, lot: Lot) -> list[TestStatus]:
    """Every test of the lot's specification with its state, in specification order."""
    spec = spec_for_lot(session, lot)
    chains: dict[str, list[QCResult]] = defaultdict(list)
    for result in results_for_lot(session, lot.id):
        chains[result.test_code].append(result)
    investigations = oos_deviations(session, lot.id)
    # The review signatures of the results _status asks about, in one query (was one query per
    # test: 16 of a CoA's 31 statements for an XS411 lot; issue #10).
    latest = [chain[-1] for test in spec.definition.tests
              if (chain := chains.get(test.code)) and chain[-1].status != ResultStatus.FAIL]  # fmt: skip
    signatures = signatures_of_many(session, [(r, None) for r in latest])
    reviewed = {r.id for r, views in zip(latest, signatures, strict=True) if has_valid(views, "reviewed")}
    return [_status(test, tuple(chains[test.code]), investigations, reviewed) for test in spec.definition.tests]


def release_status(session: Session, lot: Lot) -> list[TestStatus]:
    """The tests required for release and where each stands (the last result of each chain)."""
    return [s for s in statuses_for_lot(session, lot) if s.test.required_for_release]


def _status(
    test: TestDef, chain: tuple[QCResult, ...], investigations: dict[int, Deviation], reviewed_ids: set[int]
) -> TestStatus:
    if not chain:
        return TestStatus(test, TestState.MISSING, chain, (f"{test.name}: no result yet.",))
    latest = chain[-1]
    if latest.status == ResultStatus.FAIL:
        oos = investigations.get(latest.id)
        where = f"OOS investigation {oos.number}" if oos else "no OOS investigation recorded"
        return TestStatus(
            test, TestState.FAIL, chain, (f"{test.name}: out of specification ({latest.result_text}; {where}).",)
        )
    reasons = []
    reviewed = latest.id in reviewed_ids
    if not reviewed:
        reasons.append(f"{test.name}: result {latest.result_text} is not reviewed by a second QC analyst.")
    still_open = [investigations[r.id] for r in chain[:-1] if r.id in investigations and investigations[r.id].is_open]
    reasons += [f"{test.name}: the retest counts only once OOS investigation {d.number} is closed."
                for d in still_open]  # fmt: skip
    state = (TestState.UNREVIEWED if not reviewed else TestState.OOS_OPEN if still_open
             else TestState(latest.status.value))  # fmt: skip
    return TestStatus(test, state, chain, tuple(reasons))


@dataclass(frozen=True)
class LotBoard:
    """The QC results page of a lot: every test, its chain, signatures and investigations."""

    lot: Lot
    spec: SpecVersion
    tests: list[TestStatus]
    signatures: dict[int, list[SignatureView]]
    investigations: dict[int, Deviation]
    names: dict[int, str]


def lot_board(session: Session, lot: Lot) -> LotBoard:
    """Everything the lot's QC results page shows."""
    tests = statuses_for_lot(session, lot)
    results = [r for s in tests for r in s.results]
    signatures = signatures_of_many(session, [(r, None) for r in results])
    return LotBoard(lot, spec_for_lot(session, lot), tests, {r.id: s for r, s in zip(results, signatures, strict=True)},
                    oos_deviations(session, lot.id), full_names(session, {r.analyst_id for r in results}))  # fmt: skip


def full_names(session: Session, user_ids: set[int]) -> dict[int, str]:
    """Printed names of users, by id (for records that store only the id)."""
    if not user_ids:
        return {}
    return {
        row.id: row.full_name for row in session.execute(select(User.id, User.full_name).where(User.id.in_(user_ids)))
    }


def lot_test(session: Session, lot: Lot, test_code: str) -> TestDef:
    """The test of the lot's specification with this code; NotFound when there is none."""
    spec = spec_for_lot(session, lot)
    try:
        return spec.definition.test(test_code)
    except KeyError:
        raise NotFound(f"{spec.label} has no test {test_code!r}.") from None


def open_lots(session: Session) -> list[Lot]:
    """Quarantined lots (not yet released or rejected), newest first: where QC results go."""
    return list(session.scalars(
        select(Lot).where(Lot.status.in_(tuple(QUARANTINED))).order_by(Lot.started_at.desc())
    ))  # fmt: skip
