"""Auditor portal, downloads, on-demand audit trail exports and the public verification page."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user

from app.auth.permissions import public, roles
from app.auth.roles import AUDITOR, QA
from app.batches.models import LotStatus
from app.batches.services.lots import get_lot
from app.common.errors import NotFound, RuleViolation
from app.common.web import attempt, bounded_int
from app.documents import services
from app.documents.forms import ExportForm, LotSearchForm, RegenerateForm, VerifyForm
from app.documents.models import Document
from app.extensions import db, limiter

bp = Blueprint("documents", __name__, template_folder="templates")
READERS = (AUDITOR, QA)


def _lot_query(form: LotSearchForm) -> services.LotQuery:
    status = LotStatus(form.status.data) if form.status.data else None
    return services.LotQuery(form.number.data or None, form.product.data or None, status,
                             form.started_from.data, form.started_to.data)  # fmt: skip


@bp.route("/documents/")
@roles(*READERS)
def portal() -> tuple[str, int]:
    form = LotSearchForm(request.args)
    form.set_products(services.products(db.session))
    if not form.validate():
        return render_template("documents/portal.html", form=form, page=None, args={}), 400
    page = services.search_lots(db.session, _lot_query(form), request.args.get("page", 1, type=bounded_int))
    args = {k: v for k, v in request.args.items() if k != "page"}
    return render_template("documents/portal.html", form=form, page=page, args=args), 200


@bp.route("/documents/lots/<int:lot_id>")
@roles(*READERS)
def lot_documents(lot_id: int) -> str:
    lot = get_lot(db.session, lot_id)
    return render_template("documents/lot.html", lot=lot, documents=services.lot_documents(db.session, lot.id),
                           successors=services.successors(db.session, lot.id), export_form=ExportForm(),
                           regenerate_form=RegenerateForm(), regenerable=services.DISPOSITION_KINDS,
                           pending=services.pending_kinds(db.session, lot))  # fmt: skip


@bp.route("/documents/lots/<int:lot_id>/render-pending", methods=["POST"])
@roles(QA)
def render_pending(lot_id: int) -> Response:
    """Render the disposition documents still missing (the rendering runs after this commits)."""
    if not ExportForm().validate_on_submit():
        raise RuleViolation("The form expired; reload the page.", status=400)
    _, error = attempt(services.request_pending, db.session, current_user, get_lot(db.session, lot_id))
    flash(error.message if error else "The pending documents were rendered; the list below shows what is stored.",
          "error" if error else "success")  # fmt: skip
    return redirect(url_for("documents.lot_documents", lot_id=lot_id))


def _send(document: Document) -> Response:
    """The stored bytes, exactly, streamed after the request's transaction (which records the
    download) has committed: the time to the first byte does not grow with the file."""
    services.record_download(db.session, current_user, document)
    headers = {"Content-Disposition": f'attachment; filename="{document.filename}"',
               "X-Content-SHA256": document.sha256, "Content-Length": str(document.size)}  # fmt: skip
    body = stream_with_context(services.content_chunks(db.session, document.id, document.size))
    response = Response(body, mimetype=document.mime, headers=headers)
    response.set_etag(document.sha256)
    return response


@bp.route("/documents/<int:document_id>/download")
@roles(*READERS)
def download(document_id: int) -> Response:
    return _send(services.get_document(db.session, document_id))


@bp.route("/documents/lots/<int:lot_id>/audit-trail.<any(pdf, csv):fmt>", methods=["POST"])
@roles(*READERS)
def export_trail(lot_id: int, fmt: str) -> Response:
    if not ExportForm().validate_on_submit():
        raise RuleViolation("The form expired; reload the page.", status=400)
    document = services.export_audit_trail(db.session, current_user, get_lot(db.session, lot_id), fmt)
    return _send(document)


@bp.route("/documents/<int:document_id>/regenerate", methods=["POST"])
@roles(QA)
def regenerate(document_id: int) -> Response:
    document = services.get_document(db.session, document_id)
    form = RegenerateForm()
    if not form.validate_on_submit():
        flash("A regeneration needs a reason.", "error")
        return redirect(url_for("documents.lot_documents", lot_id=document.lot_id))
    new, error = attempt(services.regenerate, db.session, current_user, document, form.reason.data)
    flash(error.message if error else f"New {new.kind_label.lower()} {new.public_id} rendered.",
          "error" if error else "success")  # fmt: skip
    return redirect(url_for("documents.lot_documents", lot_id=document.lot_id))


def _verify_page(form: VerifyForm, result: services.Verification | None = None, status: int = 200,
                 error: str | None = None, described: services.Verification | None = None):  # type: ignore[no-untyped-def]
    return render_template("documents/verify.html", form=form, result=result, error=error, described=described,
                           max_mb=current_app.config["VERIFY_MAX_BYTES"] // (1024 * 1024)), status  # fmt: skip


@bp.route("/verify", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["VERIFY_RATE_LIMIT"], methods=["POST"])
@public
def verify():  # type: ignore[no-untyped-def]
    form = VerifyForm()
    if request.method == "GET" or not form.validate_on_submit():
        return _verify_page(form, status=200 if request.method == "GET" else 400)
    described = services.describe(db.session, form.expected.data) if form.expected.data else None
    try:
        upload, limit = form.file.data, current_app.config["VERIFY_MAX_BYTES"]
        digest = services.sha256_of(upload.stream, limit) if upload else form.sha256.data
        result = services.verify(db.session, digest, expected=described.document if described else None)
    except RuleViolation as exc:
        return _verify_page(form, error=exc.message, status=exc.status)
    return _verify_page(form, result)


@bp.route("/verify/<sha256>")
@public
def verify_hash(sha256: str):  # type: ignore[no-untyped-def]
    form = VerifyForm(formdata=None, sha256=sha256)
    try:
        return _verify_page(form, services.verify(db.session, sha256))
    except RuleViolation as exc:
        return _verify_page(form, error=exc.message, status=exc.status)


@bp.route("/verify/doc/<uuid:public_id>")
@public
def verify_document(public_id) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    described = services.describe(db.session, str(public_id))
    if described is None:
        raise NotFound("No document has this identifier: the QR code does not come from this system.")
    return _verify_page(VerifyForm(formdata=None, expected=str(public_id)), described=described)
