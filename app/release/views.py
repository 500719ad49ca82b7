"""QA's release pages: the queue, the review-by-exception page, review and disposition."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user
from werkzeug.routing import BuildError
from werkzeug.wrappers import Response

from app.auth.permissions import roles
from app.auth.roles import QA
from app.batches.services.lots import get_lot
from app.common.errors import RuleViolation
from app.common.web import attempt
from app.extensions import db
from app.release import services
from app.release.facts import Target
from app.signatures.forms import SignatureForm, credentials, needs_policy, signed_in_session

bp = Blueprint("release", __name__, template_folder="templates", url_prefix="/release")
Page = Response | str | tuple[str, int]
#: One signing dialog per decision on the page, each with its own field names.
DIALOGS = ("review", "release", "reject")

#: Where an exception links, best first; the audit trail of the record is always there.
_LINKS: dict[str, tuple[tuple[str, Callable[[Target], dict[str, Any]]], ...]] = {
    "StepRecord": (("batches.step", lambda t: {"lot_id": t.lot_id, "step_id": t.step_id}),),
    "Entry": (("batches.step", lambda t: {"lot_id": t.lot_id, "step_id": t.step_id}),),
    "Deviation": (("deviations.detail", lambda t: {"deviation_id": t.entity_id}),),
    "QCResult": (("qc_results.lot_results", lambda t: {"lot_id": t.lot_id, "_anchor": f"result-{t.entity_id}"}),),
}


def link_for(target: Target | None, lot_id: int) -> str:
    """The page of the record, or its audit trail when that page does not exist (yet)."""
    for endpoint, params in _LINKS.get(target.entity_type, ()) if target else ():
        try:
            return url_for(endpoint, **params(target))
        except BuildError:
            continue
    if target is None:
        return url_for("audit.trail", lot_id=lot_id)
    return url_for("audit.trail", lot_id=lot_id, entity_type=target.entity_type, entity_id=target.entity_id)


@bp.route("/")
@roles(QA)
def index() -> str:
    return render_template("release/index.html", queue=services.release_queue(db.session))


@bp.route("/lots/<int:lot_id>/start-review", methods=["POST"])
@roles(QA)
def start_review(lot_id: int) -> Page:
    _, error = attempt(lambda: services.start_review(db.session, current_user, get_lot(db.session, lot_id)))
    if error:
        flash(error.message, "error")
        return redirect(url_for("release.index"))
    return redirect(url_for("release.review", lot_id=lot_id))


def _render(lot_id: int, forms: dict[str, SignatureForm] | None = None, error: RuleViolation | None = None,
            status: int = 200) -> tuple[str, int]:  # fmt: skip
    report = services.exceptions(db.session, get_lot(db.session, lot_id))
    forms = forms or {}
    dialogs = {name: forms.get(name) or SignatureForm(prefix=name, formdata=None) for name in DIALOGS}
    policy_needed = needs_policy(db.session, current_user)
    return render_template("release/review.html", report=report, forms=dialogs, error=error,
                           needs_policy=policy_needed, link_for=link_for), status  # fmt: skip


@bp.route("/lots/<int:lot_id>")
@roles(QA)
def review(lot_id: int) -> tuple[str, int]:
    return _render(lot_id)


def _signed(lot_id: int, dialog: str, service: Callable[..., Any], done: str) -> Page:
    """Parse one signing dialog, make one service call, and show the lot again."""
    form = SignatureForm(prefix=dialog)
    if not form.validate_on_submit():
        return _render(lot_id, {dialog: form}, status=400)
    _, error = attempt(lambda: service(db.session, current_user, get_lot(db.session, lot_id), credentials(form),
                                       form.sig_comment.data))  # fmt: skip
    if error:
        return _render(lot_id, {dialog: form}, error=error, status=error.status)
    signed_in_session()
    flash(done, "success")
    return redirect(url_for("release.review", lot_id=lot_id))


@bp.route("/lots/<int:lot_id>/review", methods=["POST"])
@roles(QA)
def sign_review(lot_id: int) -> Page:
    return _signed(lot_id, "review", services.sign_review, "Review of the lot record and audit trail signed.")


@bp.route("/lots/<int:lot_id>/release", methods=["POST"])
@roles(QA)
def release(lot_id: int) -> Page:
    return _signed(lot_id, "release", services.release, "Lot released.")


@bp.route("/lots/<int:lot_id>/reject", methods=["POST"])
@roles(QA)
def reject(lot_id: int) -> Page:
    return _signed(lot_id, "reject", services.reject, "Lot rejected.")
