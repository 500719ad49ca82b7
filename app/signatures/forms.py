"""The signing dialog: the same fields wherever a record is signed (11.200(a))."""

from __future__ import annotations

from flask import current_app, session
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session
from wtforms import BooleanField, PasswordField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from app.auth.models import User
from app.common.errors import RuleViolation
from app.common.web import client_ip
from app.signatures.services import Credentials, has_accepted_policy


class SignatureForm(FlaskForm):
    """Username (first signature of a session), password, policy acceptance, comment."""

    sig_username = StringField("Username", validators=[Optional(), Length(max=64)])
    # Optional here so a form can also just save; credentials() refuses a blank password.
    sig_password = PasswordField("Password", validators=[Optional(), Length(max=256)])
    sig_accept_policy = BooleanField("I accept the electronic signature policy")
    sig_comment = TextAreaField("Comment", validators=[Optional(), Length(max=2000)])


def username_needed() -> bool:
    """The first signature after login (or after expiry) asks for the username too."""
    return bool(session.get("esig_username_needed", True))


def credentials(form: SignatureForm) -> Credentials:
    """The credentials typed into this request's signing dialog (a blank password signs nothing)."""
    if not form.sig_password.data:
        raise RuleViolation("Enter your password to sign.", status=400)
    return Credentials(
        password=form.sig_password.data or "",
        username=form.sig_username.data,
        username_required=username_needed(),
        accept_policy=bool(form.sig_accept_policy.data),
        ip=client_ip(),
    )


def signed_in_session() -> None:
    """After a successful signature, later ones in this session need only the password."""
    session["esig_username_needed"] = False
    # Signing needed the current policy accepted (sign() checks it in the database every time).
    session["esig_policy_accepted"] = current_app.config["ESIG_POLICY_VERSION"]


def needs_policy(db_session: Session, user: User) -> bool:
    """Whether a signing dialog shows the e-signature policy to accept: not once the user signed
    in this login session (that signature needed it), else unless its current version is accepted."""
    version = current_app.config["ESIG_POLICY_VERSION"]
    if session.get("esig_policy_accepted") == version:
        return False
    return not has_accepted_policy(db_session, user, version)


def policy_text() -> tuple[str, str]:
    return current_app.config["ESIG_POLICY_VERSION"], current_app.config["ESIG_POLICY_TEXT"]
