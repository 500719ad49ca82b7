"""The audit trail viewer and its CSV export (QA and auditors)."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request
from flask_login import current_user

from app.audit import services
from app.audit.capture import Actor
from app.audit.forms import EventFilterForm
from app.auth.permissions import roles
from app.auth.roles import AUDITOR, QA
from app.common.timeutil import utcnow
from app.common.web import bounded_int
from app.extensions import db

bp = Blueprint("audit", __name__, template_folder="templates", url_prefix="/audit")


def _filter_from_request() -> tuple[EventFilterForm, services.EventFilter]:
    form = EventFilterForm(request.args)
    if not form.validate():
        return form, services.EventFilter(lot_id=-1)  # invalid filters match nothing
    fields = {name: form[name].data for name in services.EventFilter.__dataclass_fields__}
    return form, services.EventFilter(**{k: (v or None) for k, v in fields.items()})


@bp.route("/")
@roles(QA, AUDITOR)
def trail() -> str | tuple[str, int]:
    form, flt = _filter_from_request()
    page = services.search(db.session, flt, request.args.get("page", 1, type=bounded_int))
    query = {k: v for k, v in request.args.items() if k != "page"}
    status = 200 if not form.errors else 400
    return render_template("audit/trail.html", form=form, page=page, query=query), status


@bp.route("/export.csv")
@roles(QA, AUDITOR)
def export() -> Response:
    _, flt = _filter_from_request()
    body = services.export_csv(db.session, flt, Actor.of(current_user))
    name = f"audit-trail-{utcnow():%Y%m%dT%H%M%SZ}.csv"
    return Response(body, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip
