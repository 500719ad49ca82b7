"""The dashboard each user lands on after login."""

from flask import Blueprint, render_template
from flask_login import current_user

from app.auth.permissions import authenticated
from app.auth.roles import ADMIN, QA
from app.auth.services import recent_lockouts
from app.extensions import db

bp = Blueprint("home", __name__, template_folder="templates")


@bp.route("/")
@authenticated
def index() -> str:
    lockouts = recent_lockouts(db.session) if current_user.has_role(QA, ADMIN) else []
    return render_template("home/index.html", lockouts=lockouts)
