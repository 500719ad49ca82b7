"""Login, logout, password change and the admin's user management pages."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from app.auth import services
from app.auth.forms import (
    ChangePasswordForm,
    LoginForm,
    ReasonForm,
    ResetPasswordForm,
    RolesForm,
    UserCreateForm,
)
from app.auth.permissions import authenticated, public, roles
from app.auth.policy import AccountPolicy
from app.auth.roles import ADMIN
from app.common.timeutil import utcnow
from app.common.web import attempt, client_ip
from app.extensions import db, limiter

bp = Blueprint("auth", __name__, template_folder="templates")


def _safe_next(target: str | None) -> str:
    """Only redirect within this site after login (no open redirect)."""
    # Browsers read "/\\host" as "//host" and drop tabs and newlines, so refuse those too.
    unsafe = target is None or "\\" in target or any(ord(c) < 32 for c in target)
    if target and not unsafe and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("home.index")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
@public
def login() -> Response | tuple[str, int] | str:
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form)
    user, error = attempt(services.login, db.session, form.username.data, form.password.data,
                          client_ip(), AccountPolicy.current())  # fmt: skip
    if error:
        return render_template("auth/login.html", form=form, error=error.message), error.status
    session.clear()  # a new session on login: no fixation of a pre-login session
    login_user(user)
    session["last_seen"] = utcnow().timestamp()
    session["esig_username_needed"] = True
    return redirect(_safe_next(request.args.get("next")))


@bp.route("/logout", methods=["POST"])
@authenticated
def logout() -> Response:
    services.logout(db.session, current_user._get_current_object())
    logout_user()
    session.clear()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@authenticated
def change_password() -> Response | tuple[str, int] | str:
    form = ChangePasswordForm()
    if not form.validate_on_submit():
        return render_template("auth/change_password.html", form=form)
    _, error = attempt(services.change_password, db.session, current_user, form.current.data,
                       form.new.data, form.confirm.data, client_ip(), AccountPolicy.current())  # fmt: skip
    if error:
        return render_template("auth/change_password.html", form=form, error=error), error.status
    # The session token rotated with the password. Pass the User itself: handing Flask-Login
    # the current_user proxy stores the proxy in g, which then resolves to itself forever.
    login_user(current_user._get_current_object())
    flash("Your password was changed.", "success")
    return redirect(url_for("home.index"))


@bp.route("/admin/users")
@roles(ADMIN)
def users() -> str:
    return render_template("auth/users.html", users=services.list_users(db.session), now=utcnow())


@bp.route("/admin/users/new", methods=["GET", "POST"])
@roles(ADMIN)
def create_user() -> Response | str:
    form = UserCreateForm()
    if form.validate_on_submit():
        user = services.create_user(db.session, current_user, form.username.data, form.full_name.data,
                                    form.roles.data, form.password.data, AccountPolicy.current())  # fmt: skip
        flash(f"User {user.username} created; they must change the password at first login.", "success")
        return redirect(url_for("auth.user_detail", user_id=user.id))
    return render_template("auth/user_new.html", form=form)


@bp.route("/admin/users/<int:user_id>")
@roles(ADMIN)
def user_detail(user_id: int) -> str:
    user = services.get_user(db.session, user_id)
    roles_form = RolesForm(roles=sorted(user.role_set))
    return render_template("auth/user_detail.html", user=user, roles_form=roles_form,
                           reason_form=ReasonForm(), reset_form=ResetPasswordForm(), now=utcnow())  # fmt: skip


def _admin_action(user_id: int, form_class: type, apply) -> Response:  # type: ignore[no-untyped-def]
    """Validate a reason-bearing admin form, apply one service call, return to the user page."""
    user = services.get_user(db.session, user_id)
    form = form_class()
    if not form.validate_on_submit():
        flash("A reason is required. " + " ".join(e for errs in form.errors.values() for e in errs), "error")
        return redirect(url_for("auth.user_detail", user_id=user_id)), 400
    apply(user, form)
    flash("Saved.", "success")
    return redirect(url_for("auth.user_detail", user_id=user_id))


@bp.route("/admin/users/<int:user_id>/roles", methods=["POST"])
@roles(ADMIN)
def set_roles(user_id: int) -> Response:
    return _admin_action(user_id, RolesForm, lambda u, f: services.set_roles(
        db.session, current_user, u, f.roles.data, f.reason.data))  # fmt: skip


@bp.route("/admin/users/<int:user_id>/reset-password", methods=["POST"])
@roles(ADMIN)
def reset_password(user_id: int) -> Response:
    return _admin_action(user_id, ResetPasswordForm, lambda u, f: services.reset_password(
        db.session, current_user, u, f.password.data, f.reason.data, AccountPolicy.current()))  # fmt: skip


@bp.route("/admin/users/<int:user_id>/deactivate", methods=["POST"])
@roles(ADMIN)
def deactivate(user_id: int) -> Response:
    return _admin_action(user_id, ReasonForm, lambda u, f: services.set_active(
        db.session, current_user, u, False, f.reason.data))  # fmt: skip


@bp.route("/admin/users/<int:user_id>/reactivate", methods=["POST"])
@roles(ADMIN)
def reactivate(user_id: int) -> Response:
    return _admin_action(user_id, ReasonForm, lambda u, f: services.set_active(
        db.session, current_user, u, True, f.reason.data))  # fmt: skip


@bp.route("/admin/users/<int:user_id>/unlock", methods=["POST"])
@roles(ADMIN)
def unlock(user_id: int) -> Response:
    return _admin_action(user_id, ReasonForm, lambda u, f: services.unlock(
        db.session, current_user, u, f.reason.data))  # fmt: skip
