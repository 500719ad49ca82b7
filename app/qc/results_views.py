"""QC results pages: per-lot results, entry, retest and the second analyst's review."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from app.auth.permissions import roles
from app.auth.roles import AUDITOR, QA, QC_ANALYST
from app.batches.services.lots import get_lot
from app.common.errors import NotFound
from app.common.web import attempt
from app.extensions import db
from app.qc import services
from app.qc.models import QCResult
from app.qc.results_forms import ResultForm
from app.signatures.forms import SignatureForm, credentials, needs_policy, signed_in_session
from app.signatures.services import signatures_of

bp = Blueprint("qc_results", __name__, template_folder="templates", url_prefix="/qc/lots")
READERS = (QC_ANALYST, QA, AUDITOR)
Page = Response | str | tuple[str, int]


def _lot_result(lot_id: int, result_id: int) -> QCResult:
    result = services.get_result(db.session, result_id)
    if result.lot_id != lot_id:
        raise NotFound("No such QC result on this lot.")
    return result


def _back(lot_id: int, message: str) -> Response:
    flash(message, "success")
    return redirect(url_for("qc_results.lot_results", lot_id=lot_id))


@bp.route("/")
@roles(*READERS)
def index() -> str:
    return render_template("qc/results/index.html", lots=services.open_lots(db.session))


@bp.route("/<int:lot_id>")
@roles(*READERS)
def lot_results(lot_id: int) -> str:
    board = services.lot_board(db.session, get_lot(db.session, lot_id))
    return render_template("qc/results/lot.html", board=board)


def _render_entry(lot_id: int, test_code: str, form: ResultForm, original: QCResult | None = None,
                  error=None, status: int = 200) -> tuple[str, int]:  # type: ignore[no-untyped-def]  # fmt: skip
    lot = get_lot(db.session, lot_id)
    test = services.lot_test(db.session, lot, test_code)
    if not form.is_submitted():
        form.method.data = original.method if original else test.method
    return render_template("qc/results/enter.html", lot=lot, test=test, form=form, original=original,
                           error=error), status  # fmt: skip


@bp.route("/<int:lot_id>/tests/<test_code>/result", methods=["GET", "POST"])
@roles(QC_ANALYST)
def enter(lot_id: int, test_code: str) -> Page:
    form = ResultForm()
    if not form.validate_on_submit():
        return _render_entry(lot_id, test_code, form, status=400 if form.errors else 200)
    result, error = attempt(services.enter_result, db.session, current_user, get_lot(db.session, lot_id),
                            form.result_input(test_code))  # fmt: skip
    if error:
        return _render_entry(lot_id, test_code, form, error=error, status=error.status)
    return _back(lot_id, f"{result.test_code}: {result.result_text} recorded ({result.status}).")


@bp.route("/<int:lot_id>/results/<int:result_id>/retest", methods=["GET", "POST"])
@roles(QC_ANALYST)
def retest(lot_id: int, result_id: int) -> Page:
    original = _lot_result(lot_id, result_id)
    form = ResultForm()
    if not form.validate_on_submit():
        return _render_entry(lot_id, original.test_code, form, original, status=400 if form.errors else 200)
    result, error = attempt(services.retest, db.session, current_user, original,
                            form.result_input(original.test_code))  # fmt: skip
    if error:
        original = _lot_result(lot_id, result_id)
        return _render_entry(lot_id, original.test_code, form, original, error=error, status=error.status)
    return _back(lot_id, f"Retest of {result.test_code}: {result.result_text} recorded ({result.status}).")


def _render_review(lot_id: int, result_id: int, form: SignatureForm, error=None,
                   status: int = 200) -> tuple[str, int]:  # type: ignore[no-untyped-def]  # fmt: skip
    result = _lot_result(lot_id, result_id)
    policy_needed = needs_policy(db.session, current_user)
    return render_template("qc/results/review.html", lot=get_lot(db.session, lot_id), result=result,
                           signatures=signatures_of(db.session, result), form=form, error=error,
                           needs_policy=policy_needed), status  # fmt: skip


@bp.route("/<int:lot_id>/results/<int:result_id>/review", methods=["GET", "POST"])
@roles(QC_ANALYST)
def review(lot_id: int, result_id: int) -> Page:
    form = SignatureForm()
    if not form.validate_on_submit():
        return _render_review(lot_id, result_id, form, status=400 if form.errors else 200)
    result = _lot_result(lot_id, result_id)
    _, error = attempt(
        lambda: services.review_result(db.session, current_user, result, credentials(form), form.sig_comment.data)
    )
    if error:
        return _render_review(lot_id, result_id, form, error=error, status=error.status)
    signed_in_session()
    return _back(lot_id, f"Result #{result_id} reviewed.")
