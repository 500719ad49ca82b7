"""QC pages. Specification versions (list, rendering, QA lifecycle, diff) are in the first part;
QC results pages go in their own part below it."""

from __future__ import annotations

from flask import Blueprint

from app.auth.permissions import roles
from app.auth.roles import AUDITOR, QA, QC_ANALYST
from app.mbr.pages import DefinitionPages, Page
from app.qc.models import SpecVersion
from app.qc.spec_schema import parse_spec

bp = Blueprint("qc", __name__, template_folder="templates", url_prefix="/qc")

# --- Specification versions -------------------------------------------------------------------

SPEC_READERS = (QC_ANALYST, QA, AUDITOR)
SPEC_AUTHORS = (QC_ANALYST, QA)
SPEC_PAGES = DefinitionPages(
    model=SpecVersion, parse=parse_spec, title="QC release specifications",
    noun="QC specification", detail_template="qc/spec_detail.html", load_roles=SPEC_AUTHORS,
    endpoints={"index": "qc.index", "detail": "qc.spec_detail", "approve": "qc.spec_approve",
               "effective": "qc.spec_make_effective", "retire": "qc.spec_retire",
               "diff": "qc.spec_diff", "load": "qc.spec_load"},
)  # fmt: skip


@bp.route("/")
@roles(*SPEC_READERS)
def index() -> Page:
    return SPEC_PAGES.index()


@bp.route("/specs/load", methods=["POST"])
@roles(*SPEC_AUTHORS)
def spec_load() -> Page:
    return SPEC_PAGES.load()


@bp.route("/specs/<int:version_id>")
@roles(*SPEC_READERS)
def spec_detail(version_id: int) -> Page:
    return SPEC_PAGES.detail(version_id)


@bp.route("/specs/<int:version_id>/approve", methods=["POST"])
@roles(QA)
def spec_approve(version_id: int) -> Page:
    return SPEC_PAGES.approve(version_id)


@bp.route("/specs/<int:version_id>/effective", methods=["POST"])
@roles(QA)
def spec_make_effective(version_id: int) -> Page:
    return SPEC_PAGES.make_effective(version_id)


@bp.route("/specs/<int:version_id>/retire", methods=["POST"])
@roles(QA)
def spec_retire(version_id: int) -> Page:
    return SPEC_PAGES.retire(version_id)


@bp.route("/specs/diff")
@roles(*SPEC_READERS)
def spec_diff() -> Page:
    return SPEC_PAGES.diff()


# --- QC results (another part of the module) ----------------------------------------------------
