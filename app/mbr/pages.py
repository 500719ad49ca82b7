"""Page logic shared by every versioned definition (master batch records, QC specifications).

Each module declares one `DefinitionPages` (its model, parser, endpoints and detail template)
and keeps its own thin, role-decorated routes that call these methods. Rules stay in services.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.utils import secure_filename
from werkzeug.wrappers import Response

from app.auth.permissions import can
from app.auth.roles import QA
from app.common.timeutil import utcnow
from app.common.web import attempt, bounded_int, submit
from app.extensions import db
from app.mbr import services
from app.mbr.forms import EffectiveForm, LoadForm, RetireForm
from app.signatures.forms import SignatureForm, credentials, needs_policy, signed_in_session
from app.signatures.services import signatures_of

Page = str | tuple[str, int] | Response


@dataclass(frozen=True)
class DefinitionPages:
    """One kind of definition's pages: what it is, where its routes are, who may load it."""

    model: type
    parse: services.Parse
    title: str  #: e.g. "Master batch records"
    noun: str  #: e.g. "master batch record"
    endpoints: dict[str, str]  #: index, detail, approve, effective, retire, diff, load
    detail_template: str
    load_roles: tuple[str, ...]

    def url(self, action: str, **values: Any) -> str:
        return url_for(self.endpoints[action], **values)

    def index(self, error: Any = None, form: LoadForm | None = None) -> str:
        """The list of every version with its status (and the upload form for authors)."""
        rows = services.list_versions(db.session, self.model)
        return render_template("definitions/versions.html", pages=self, rows=rows, now=utcnow(),
                               load_form=form or LoadForm(), error=error)  # fmt: skip

    def load(self) -> Page:
        """Load an uploaded file as a new Draft; the uploader is its author."""
        form = LoadForm()
        if not form.validate_on_submit():
            return self.index(form=form), 400
        upload = form.definition_file.data
        name = secure_filename(upload.filename or "") or "upload.yaml"
        result, error = attempt(services.load_upload, db.session, self.model, self.parse, upload.read(),
                                name, current_user)  # fmt: skip
        if error:
            return self.index(error, form), error.status
        row, outcome = result
        flash(f"{name}: {outcome}, {row.label}.", "info" if outcome == services.UNCHANGED else "success")
        return redirect(self.url("detail", version_id=row.id))

    def detail(self, version_id: int, error: Any = None, **forms: Any) -> str:
        """The readable definition, its signatures, and QA's lifecycle actions."""
        row = services.get_version(db.session, self.model, version_id)
        is_qa = can(current_user, QA)
        policy_needed = is_qa and needs_policy(db.session, current_user)
        return render_template(
            self.detail_template, pages=self, row=row, definition=row.definition, now=utcnow(),
            signatures=signatures_of(db.session, row), error=error, needs_policy=policy_needed,
            others=[r for r in services.list_versions(db.session, self.model, row.code) if r.id != row.id],
            sign_form=forms.get("sign_form") or SignatureForm(),
            effective_form=forms.get("effective_form") or EffectiveForm(),
            retire_form=forms.get("retire_form") or RetireForm(),
        )  # fmt: skip

    def _submit(self, version_id: int, form: Any, form_name: str, apply: Any, done: str) -> Page:
        """Validate, run one service call, then back to the detail page (or show it again)."""
        return submit(form, apply, done, self.url("detail", version_id=version_id),
                      lambda error: self.detail(version_id, error, **{form_name: form}))  # fmt: skip

    def approve(self, version_id: int) -> Page:
        """QA signs the Draft 'approved' in the signing dialog."""
        row = services.get_version(db.session, self.model, version_id)
        form = SignatureForm()

        def apply() -> None:
            # credentials() itself refuses a blank password: inside submit, so the page says so.
            services.approve(db.session, current_user, row, credentials(form), form.sig_comment.data)
            signed_in_session()

        return self._submit(version_id, form, "sign_form", apply, f"{row.label} approved.")

    def make_effective(self, version_id: int) -> Page:
        """QA makes an Approved version effective from a date, with a reason."""
        row = services.get_version(db.session, self.model, version_id)
        form = EffectiveForm()
        return self._submit(version_id, form, "effective_form", lambda: services.make_effective(
            db.session, current_user, row, form.moment(), form.effective_reason.data),
            f"{row.label} is effective from the date given.")  # fmt: skip

    def retire(self, version_id: int) -> Page:
        """QA retires a version, with a reason."""
        row = services.get_version(db.session, self.model, version_id)
        form = RetireForm()
        return self._submit(version_id, form, "retire_form", lambda: services.retire(
            db.session, current_user, row, form.retire_reason.data), f"{row.label} retired.")  # fmt: skip

    def diff(self) -> Page:
        """The changed lines between two versions of the same definition (?from=id&to=id)."""
        old_id, new_id = request.args.get("from", type=bounded_int), request.args.get("to", type=bounded_int)
        if old_id is None or new_id is None:
            abort(400, "Choose two versions to compare (from and to).")
        old = services.get_version(db.session, self.model, old_id)
        new = services.get_version(db.session, self.model, new_id)
        lines = services.diff(old, new)
        return render_template("definitions/diff.html", pages=self, old=old, new=new, lines=lines)
