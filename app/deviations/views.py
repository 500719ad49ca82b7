"""Deviation pages: the list, raising one on a lot, the record with investigation and QA closure."""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from app.auth.permissions import roles
from app.auth.roles import AUDITOR, QA
from app.common.errors import RuleViolation
from app.common.forms import choices
from app.common.web import submit
from app.deviations import forms, services
from app.deviations.models import Deviation
from app.extensions import db
from app.signatures.forms import SignatureForm, credentials, needs_policy, signed_in_session
from app.signatures.services import signatures_of

bp = Blueprint("deviations", __name__, template_folder="templates", url_prefix="/deviations")
READERS = (*services.REPORTERS, AUDITOR)
Page = Response | tuple[str, int] | str


@bp.route("/")
@roles(*READERS)
def index() -> tuple[str, int]:
    form = forms.DeviationFilterForm(request.args)
    valid = form.validate()
    rows = services.search(db.session, form.status.data, form.lot.data) if valid else []
    return render_template("deviations/index.html", form=form, rows=rows), 200 if valid else 400


def _raise_page(form: forms.RaiseDeviationForm, error: RuleViolation | None = None) -> str:
    return render_template("form_page.html", title="Raise a deviation", form=form, error=error,
                           intro="Report any departure from the batch record or a procedure; QA is informed.",
                           submit_label="Raise deviation", cancel_url=url_for("deviations.index"))  # fmt: skip


@bp.route("/new", methods=["GET", "POST"])
@roles(*services.REPORTERS)
def raise_deviation() -> Page:
    form = forms.RaiseDeviationForm(lot_id=request.args.get("lot_id", ""))
    lots = services.open_lots(db.session)
    form.lot_id.choices = choices(((lot.id, f"{lot.lot_number} ({lot.product})") for lot in lots), "— choose —")
    if request.method == "GET":
        return _raise_page(form)
    return submit(form, lambda: services.raise_manual(
        db.session, current_user, int(form.lot_id.data), form.category.data, form.severity.data,
        form.title.data, form.description.data),
        "Deviation raised.", _detail_url, lambda e: _raise_page(form, e))  # fmt: skip


def _detail_url(deviation: Deviation) -> str:
    return url_for("deviations.detail", deviation_id=deviation.id)


def _detail_page(deviation: Deviation, error: RuleViolation | None = None,
                 investigation_form: forms.InvestigationForm | None = None,
                 sign_form: SignatureForm | None = None) -> str:  # fmt: skip
    # Forms not posted in this request start from the record (formdata=None: ignore the POST).
    return render_template(
        "deviations/detail.html", d=deviation, links=services.links(db.session, deviation), error=error,
        signatures=signatures_of(db.session, deviation),
        investigation_form=investigation_form or forms.InvestigationForm(formdata=None, obj=deviation),
        sign_form=sign_form or SignatureForm(formdata=None),
        needs_policy=needs_policy(db.session, current_user),
    )  # fmt: skip


@bp.route("/<int:deviation_id>")
@roles(*READERS)
def detail(deviation_id: int) -> str:
    return _detail_page(services.get(db.session, deviation_id))


@bp.route("/<int:deviation_id>/investigation", methods=["POST"])
@roles(*services.INVESTIGATORS)
def investigate(deviation_id: int) -> Page:
    deviation, form = services.get(db.session, deviation_id), forms.InvestigationForm()
    return submit(form, lambda: services.record_investigation(
        db.session, current_user, deviation, form.root_cause.data, form.impact.data, form.capa_ref.data,
        form.reason.data),
        f"Investigation of {deviation.number} recorded.", _detail_url(deviation),
        lambda e: _detail_page(deviation, e, investigation_form=form))  # fmt: skip


@bp.route("/<int:deviation_id>/close", methods=["POST"])
@roles(QA)
def close(deviation_id: int) -> Page:
    deviation, form = services.get(db.session, deviation_id), SignatureForm()

    def sign_and_close() -> None:
        services.close(db.session, current_user, deviation, credentials(form), form.sig_comment.data)
        signed_in_session()

    return submit(form, sign_and_close, f"{deviation.number} closed and signed.", _detail_url(deviation),
                  lambda e: _detail_page(deviation, e, sign_form=form))  # fmt: skip
