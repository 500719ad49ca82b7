"""Shop-floor pages: worklist, start a lot, the lot, a step, verification and corrections."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.utils import secure_filename
from werkzeug.wrappers import Response

from app.auth.permissions import roles
from app.auth.roles import AUDITOR, OPERATOR, QA, QC_ANALYST, SUPERVISOR
from app.batches import forms, services
from app.batches.services.overview import load_step, lot_overview, step_signatures, with_steps
from app.common.forms import choices
from app.common.web import attempt
from app.extensions import db
from app.mbr.models import TemplateVersion
from app.signatures.forms import SignatureForm, credentials, needs_policy, signed_in_session

bp = Blueprint("batches", __name__, template_folder="templates", url_prefix="/lots")
READERS = (OPERATOR, SUPERVISOR, QA, QC_ANALYST, AUDITOR)


def _needs_policy() -> bool:
    return needs_policy(db.session, current_user)


@bp.route("/")
@roles(*READERS)
def worklist() -> str:
    lots = with_steps(db.session, services.lots_in_progress(db.session))
    return render_template("batches/worklist.html", lots=lots, available=services.available_steps)


@bp.route("/new", methods=["GET", "POST"])
@roles(SUPERVISOR)
def start() -> Response | str:
    form = forms.StartLotForm()
    startable = services.startable_versions(db.session)
    form.template_version_id.choices = choices((v.id, f"{v.label} — {v.title}") for v in startable)
    if form.validate_on_submit():
        version = db.session.get(TemplateVersion, form.template_version_id.data)
        config = current_app.config
        lot = services.start_lot(db.session, current_user, version, form.starting_material.data,
                                 config["LOT_NUMBER_PATTERN"], config["ISBT128_FIN"])  # fmt: skip
        flash(f"Lot {lot.lot_number} started on {version.label}.", "success")
        return redirect(url_for("batches.lot_detail", lot_id=lot.id))
    return render_template("batches/start.html", form=form)


@bp.route("/<int:lot_id>")
@roles(*READERS)
def lot_detail(lot_id: int) -> str:
    overview = lot_overview(db.session, services.get_lot(db.session, lot_id))
    return render_template("batches/lot.html", o=overview, label_roles=services.LABEL_ROLES)


@bp.route("/<int:lot_id>/label-data", defaults={"fmt": "json"})
@bp.route("/<int:lot_id>/label-data.csv", defaults={"fmt": "csv"})
@roles(*services.LABEL_ROLES)
def label_data(lot_id: int, fmt: str) -> Response:
    """The lot's label fields for the site's ISBT 128 label system (an audited export)."""
    lot = services.get_lot(db.session, lot_id)
    body = services.export_label_data(db.session, current_user, lot, fmt)
    if fmt == "json":
        return Response(body, mimetype="application/json")
    name = secure_filename(f"label-data-{lot.lot_number}.csv")
    return Response(body, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _render_step(lot_id: int, step_id: int, form=None, error=None, status: int = 200):  # type: ignore[no-untyped-def]
    step = load_step(db.session, lot_id, step_id)
    step_def = step.lot.template_version.definition.step(step.step_code)
    recorded = {e.input_name for e in step.current_entries}
    if form is None:
        form = forms.step_form(step_def, recorded)
        form.expected_version.data = step.version_id
    blocking = services.lots.blocking_steps(step.lot, step)
    return render_template(
        "batches/step.html", step=step, step_def=step_def, form=form, error=error,
        signatures=step_signatures(db.session, step), blocking=blocking,
        verify_form=SignatureForm(formdata=None), needs_policy=_needs_policy(), prefix=forms.PREFIX,
    ), status  # fmt: skip


@bp.route("/<int:lot_id>/steps/<int:step_id>")
@roles(*READERS)
def step(lot_id: int, step_id: int):  # type: ignore[no-untyped-def]
    return _render_step(lot_id, step_id)


@bp.route("/<int:lot_id>/steps/<int:step_id>", methods=["POST"])
@roles(OPERATOR, SUPERVISOR)
def record(lot_id: int, step_id: int):  # type: ignore[no-untyped-def]
    """Save the values (action=save) or save and sign as performed (action=complete)."""
    step_record = load_step(db.session, lot_id, step_id)
    step_def = step_record.lot.template_version.definition.step(step_record.step_code)
    form = forms.step_form(step_def, {e.input_name for e in step_record.current_entries}, request.form)
    if not form.validate():
        return _render_step(lot_id, step_id, form, status=400)
    inputs = forms.step_inputs(form, step_def)
    version = int(form.expected_version.data)
    if request.form.get("action") == "complete":
        _, error = attempt(lambda: services.record_and_sign(
            db.session, current_user, step_record, inputs, version, credentials(form), form.sig_comment.data))
    else:
        _, error = attempt(services.save_entries, db.session, current_user, step_record, inputs, version)
    if error is not None:
        forms.attach_errors(form, getattr(error, "field_errors", {}))
        return _render_step(lot_id, step_id, form, error, error.status)
    if request.form.get("action") == "complete":
        signed_in_session()
        flash(f"Step {step_record.step_code} signed as performed.", "success")
        return redirect(url_for("batches.lot_detail", lot_id=lot_id, _anchor="current"))
    flash("Values saved.", "success")
    return redirect(url_for("batches.step", lot_id=lot_id, step_id=step_id))


@bp.route("/<int:lot_id>/steps/<int:step_id>/verify", methods=["POST"])
@roles(OPERATOR, SUPERVISOR)
def verify(lot_id: int, step_id: int):  # type: ignore[no-untyped-def]
    step_record = load_step(db.session, lot_id, step_id)
    form = SignatureForm()
    version = request.form.get("expected_version", type=int)
    _, error = attempt(lambda: services.verify_step(
        db.session, current_user, step_record, credentials(form), version, form.sig_comment.data))
    if error is not None:
        return _render_step(lot_id, step_id, error=error, status=error.status)
    signed_in_session()
    flash(f"Step {step_record.step_code} verified.", "success")
    return redirect(url_for("batches.lot_detail", lot_id=lot_id))


@bp.route("/entries/<int:entry_id>/correct", methods=["GET", "POST"])
@roles(OPERATOR, SUPERVISOR)
def correct(entry_id: int):  # type: ignore[no-untyped-def]
    entry = services.get_entry(db.session, entry_id)
    form = forms.CorrectionForm()
    error = None
    if form.validate_on_submit():
        new = services.StepInput(form.value.data, form.quantity.data or None, form.comment.data)
        _, error = attempt(services.correct_entry, db.session, current_user, entry, new, form.reason.data)
        if error is None:
            flash("Correction recorded; the step must be signed again.", "success")
            return redirect(url_for("batches.step", lot_id=entry.lot_id, step_id=entry.step_record_id))
    status = error.status if error else (400 if form.errors else 200)
    return render_template("batches/correct.html", entry=entry, form=form, error=error), status
