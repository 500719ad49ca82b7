"""Request rules shared by every page: session expiry, access, the transaction boundary, errors."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

from flask import Flask, Response, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, logout_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.audit import capture as audit
from app.audit.capture import Actor
from app.auth.models import User
from app.auth.permissions import access_of, allows, can
from app.auth.roles import ADMIN, AUDITOR, OPERATOR, QA, QC_ANALYST, SUPERVISOR
from app.common.db import commit, finish_refusal
from app.common.errors import RuleViolation
from app.common.timeutil import format_site, utcnow
from app.extensions import db, login_manager

log = logging.getLogger(__name__)
#: Main navigation: endpoint, label, roles that see it (the route's own rule still decides).
NAV_LINKS = (
    ("batches.worklist", "Lots", (OPERATOR, SUPERVISOR, QA, QC_ANALYST)),
    ("mbr.index", "Master batch records", (SUPERVISOR, QA, OPERATOR)),
    ("deviations.index", "Deviations", (OPERATOR, SUPERVISOR, QC_ANALYST, QA, AUDITOR)),
    ("inventory.material_lots", "Materials", (OPERATOR, SUPERVISOR, QA, QC_ANALYST, AUDITOR)),
    ("inventory.equipment_list", "Equipment", (OPERATOR, SUPERVISOR, QA, QC_ANALYST, AUDITOR)),
    ("training.records", "Training", (SUPERVISOR, QA, AUDITOR)),
    ("qc.index", "QC", (QC_ANALYST, QA)),
    ("release.index", "Release", (QA,)),
    ("documents.portal", "Auditor portal", (AUDITOR, QA)),
    ("audit.trail", "Audit trail", (QA, AUDITOR)),
    ("auth.users", "Users", (ADMIN,)),
)
_PASSWORD_CHANGE_EXEMPT = {"auth.change_password", "auth.logout", "static"}


def register(app: Flask) -> None:
    """Wire the request rules, error handlers and template helpers into the app."""
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in."
    login_manager.user_loader(_load_user)
    app.before_request(_expire_idle_session)
    app.before_request(_enforce_access)
    app.before_request(_refuse_nul_characters)
    app.before_request(_force_password_change)
    app.after_request(_finish_transaction)
    app.after_request(_security_headers)
    if "signatures" not in app.blueprints:
        # Every module's signing pages include signatures/dialog.html; its folder must be known.
        from app.signatures.views import bp as signatures_templates

        app.register_blueprint(signatures_templates)
    app.register_error_handler(RuleViolation, _refused)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.jinja_env.filters["site_time"] = format_site
    app.jinja_env.filters["fromjson"] = json.loads
    app.jinja_env.globals["can"] = can
    # Pages link to other modules' pages only when those exist (modules are optional).
    app.jinja_env.globals["url_endpoints"] = lambda: current_app.view_functions.keys()
    app.jinja_env.globals["nav_links"] = lambda: [
        link for link in NAV_LINKS if link[0] in current_app.view_functions
    ]


def _load_user(user_id: str) -> User | None:
    """Load the user named by the session cookie, if the account and the token are still good."""
    ident, _, token = user_id.partition(".")
    user = db.session.get(User, int(ident)) if ident.isdigit() else None
    if user is None or not user.active or user.session_token != token:
        return None
    return user


def _expire_idle_session() -> Response | None:
    """After the idle timeout the session ends and the password is asked for again (11.200)."""
    if not current_user.is_authenticated:
        return None
    now = utcnow()
    last = session.get("last_seen")
    limit = timedelta(minutes=current_app.config["IDLE_TIMEOUT_MINUTES"])
    if last is not None and now - datetime.fromtimestamp(last, UTC) > limit:
        audit.record(db.session, "auth.session_expired", Actor.of(current_user), entity=current_user)
        db.session.commit()
        logout_user()
        session.clear()
        flash("Your session expired after a period of inactivity. Log in again.", "warning")
        return redirect(url_for("auth.login", next=request.full_path))
    session["last_seen"] = now.timestamp()
    return None


def _enforce_access() -> Response | None:
    """Refuse any route whose declared roles the user lacks, or that declares nothing."""
    if request.endpoint is None or request.endpoint == "static":
        return None
    access = access_of(current_app.view_functions.get(request.endpoint))
    if access is not None and allows(access, current_user):
        return None
    if access is not None and not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.full_path))
    if access is None:
        log.error("route %s declares no access rule; refused", request.endpoint)
    return _deny()


def _deny() -> tuple[str, int]:
    """A 403 page and an audit event of the refused access (11.10(g))."""
    if current_user.is_authenticated:
        audit.record(db.session, "access.denied", Actor.of(current_user),
                     endpoint=request.endpoint or "", method=request.method, path=request.path)  # fmt: skip
        db.session.commit()
    return render_template("errors/error.html", code=403,
                           message="Your roles do not allow this page or action."), 403  # fmt: skip


def _refuse_nul_characters() -> tuple[str, int] | None:
    """No text field holds a NUL character: PostgreSQL refuses to store one (a 500), and in a GMP
    record it can only be garbage or an attack. Refused for every form and query argument."""
    values = [v for _, given in (*request.args.lists(), *request.form.lists()) for v in given]
    if any("\x00" in value for value in values):
        message = "The request contains a NUL character, which no field accepts."
        return render_template("errors/error.html", code=400, message=message), 400
    return None


def _force_password_change() -> Response | None:
    """An initial or reset password must be changed before anything else (11.300)."""
    if not current_user.is_authenticated or not current_user.must_change_password:
        return None
    if request.endpoint in _PASSWORD_CHANGE_EXEMPT:
        return None
    flash("Choose a new password before you continue.", "warning")
    return redirect(url_for("auth.change_password"))


def _finish_transaction(response: Response) -> Response:
    """The one commit point of a request: commit success, roll back anything else."""
    if response.status_code < 400:
        commit(db.session)
    else:
        db.session.rollback()
    return response


def _security_headers(response: Response) -> Response:
    headers = response.headers
    headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
    )
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "same-origin"
    headers["X-Frame-Options"] = "DENY"
    if current_user.is_authenticated:
        headers["Cache-Control"] = "no-store"
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return response


def _refused(exc: RuleViolation) -> tuple[str, int]:
    """One handler for domain refusals: roll back, keep the refusal's event, say why."""
    db.session.rollback()
    if not exc.after_rollback and current_user.is_authenticated:
        actor = Actor.of(current_user)
        exc.after_rollback.append(lambda s: audit.record(
            s, "request.refused", actor, why=exc.message, endpoint=request.endpoint or ""))  # fmt: skip
    finish_refusal(db.session, exc)
    return render_template("errors/error.html", code=exc.status, message=exc.message,
                           reasons=exc.reasons), exc.status  # fmt: skip


def _csrf_error(exc: CSRFError) -> tuple[str, int]:
    db.session.rollback()
    return render_template("errors/error.html", code=400,
                           message="The form expired or did not come from this site; reload it."), 400  # fmt: skip


def _http_error(exc: HTTPException) -> tuple[str, int] | HTTPException:
    db.session.rollback()
    if exc.code == 403:
        return _deny()
    if exc.code is None or exc.code < 400:
        return exc
    return render_template("errors/error.html", code=exc.code, message=exc.description), exc.code
