"""Training records: the list (with expiry), recording training, revoking a record."""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from app.auth.forms import ReasonForm
from app.auth.models import User
from app.auth.permissions import roles
from app.auth.roles import AUDITOR
from app.auth.services import get_user
from app.common.errors import RuleViolation
from app.common.forms import choices
from app.common.timeutil import site_today
from app.common.web import submit
from app.extensions import db
from app.training import forms, services

bp = Blueprint("training", __name__, template_folder="templates", url_prefix="/training")
TRAINERS = services.TRAINERS


def _with_choices(
    form: forms.TrainingFilterForm | forms.TrainingForm, blank: str, exclude: User | None = None
) -> forms.TrainingFilterForm | forms.TrainingForm:
    users = [u for u in services.trainable_users(db.session) if exclude is None or u.id != exclude.id]
    form.user_id.choices = choices(((u.id, u.display_name) for u in users), blank)
    form.template_code.choices = choices(((c, c) for c in services.template_codes(db.session)), blank)
    return form


def _records_page(error: RuleViolation | None = None, posted: dict[int, ReasonForm] | None = None) -> str:
    form = _with_choices(forms.TrainingFilterForm(request.args), "All")
    rows = []
    if form.validate():
        user_id = int(form.user_id.data) if form.user_id.data else None
        rows = services.list_records(db.session, user_id, form.template_code.data or None)
    revoke_forms = {row.record.id: ReasonForm(formdata=None, prefix=f"revoke-{row.record.id}") for row in rows}
    revoke_forms.update(posted or {})
    return render_template("training/records.html", form=form, rows=rows, revoke_forms=revoke_forms,
                           today=site_today(), error=error)  # fmt: skip


@bp.route("/")
@roles(*TRAINERS, AUDITOR)
def records() -> str:
    return _records_page()


def _new_page(form: forms.TrainingForm, error: RuleViolation | None = None) -> str:
    return render_template("form_page.html", title="Record training", form=form, error=error,
                           intro="Training counts for the procedure (template code), whatever its version.",
                           submit_label="Record training", cancel_url=url_for("training.records"))  # fmt: skip


@bp.route("/new", methods=["GET", "POST"])
@roles(*TRAINERS)
def record_new() -> Response | tuple[str, int] | str:
    form = _with_choices(forms.TrainingForm(), "— choose —", exclude=current_user)
    if request.method == "GET":
        return _new_page(form)

    def record() -> object:
        trainee = get_user(db.session, int(form.user_id.data))
        return services.record_training(db.session, current_user, trainee, form.template_code.data,
                                        form.trained_on.data, form.expires_on.data)  # fmt: skip

    return submit(form, record, "Training recorded.", url_for("training.records"), lambda e: _new_page(form, e))


@bp.route("/<int:record_id>/revoke", methods=["POST"])
@roles(*TRAINERS)
def revoke(record_id: int) -> Response | tuple[str, int]:
    record, form = services.get_record(db.session, record_id), ReasonForm(prefix=f"revoke-{record_id}")
    return submit(form, lambda: services.revoke(db.session, current_user, record, form.reason.data),
                  "Training record revoked.", url_for("training.records"),
                  lambda e: _records_page(e, {record_id: form}))  # fmt: skip
