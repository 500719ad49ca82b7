"""Master batch record pages: the list, a readable rendering, QA's lifecycle actions, diffs."""

from __future__ import annotations

from flask import Blueprint

from app.auth.permissions import roles
from app.auth.roles import AUDITOR, OPERATOR, QA, SUPERVISOR
from app.mbr.models import TemplateVersion
from app.mbr.pages import DefinitionPages, Page
from app.mbr.schema import parse_template

bp = Blueprint("mbr", __name__, template_folder="templates", url_prefix="/mbr")
READERS = (SUPERVISOR, QA, OPERATOR, AUDITOR)
AUTHORS = (SUPERVISOR, QA)

PAGES = DefinitionPages(
    model=TemplateVersion, parse=parse_template, title="Master batch records",
    noun="master batch record", detail_template="mbr/detail.html", load_roles=AUTHORS,
    endpoints={"index": "mbr.index", "detail": "mbr.detail", "approve": "mbr.approve",
               "effective": "mbr.make_effective", "retire": "mbr.retire", "diff": "mbr.diff",
               "load": "mbr.load"},
)  # fmt: skip


@bp.route("/")
@roles(*READERS)
def index() -> Page:
    return PAGES.index()


@bp.route("/load", methods=["POST"])
@roles(*AUTHORS)
def load() -> Page:
    return PAGES.load()


@bp.route("/<int:version_id>")
@roles(*READERS)
def detail(version_id: int) -> Page:
    return PAGES.detail(version_id)


@bp.route("/<int:version_id>/approve", methods=["POST"])
@roles(QA)
def approve(version_id: int) -> Page:
    return PAGES.approve(version_id)


@bp.route("/<int:version_id>/effective", methods=["POST"])
@roles(QA)
def make_effective(version_id: int) -> Page:
    return PAGES.make_effective(version_id)


@bp.route("/<int:version_id>/retire", methods=["POST"])
@roles(QA)
def retire(version_id: int) -> Page:
    return PAGES.retire(version_id)


@bp.route("/diff")
@roles(*READERS)
def diff() -> Page:
    return PAGES.diff()
