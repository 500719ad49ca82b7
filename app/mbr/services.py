"""Versioned YAML definitions (master batch records, QC specifications): load, approve, effect.

Generic over the definition model (`TemplateVersion`, `SpecVersion`) and its parse function, so
both kinds share one lifecycle (docs/lifecycle.md): Draft -> Approved (QA e-signature) ->
Effective (from a moment) -> Superseded -> Retired. Services only flush; the caller commits.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.audit import capture as audit
from app.audit.capture import Actor
from app.auth.models import User
from app.auth.permissions import require_roles
from app.auth.roles import QA, QC_ANALYST, SUPERVISOR
from app.common.errors import NotFound, RuleViolation
from app.common.timeutil import format_site, utcnow
from app.common.yamlfile import DefinitionError, sha256_text
from app.mbr.versioning import DefinitionStatus, VersionedDefinition
from app.signatures.services import Credentials, has_valid, sign, signatures_of

Row = TypeVar("Row", bound=VersionedDefinition)
Parse = Callable[[str, str], Any]

#: Who may author (load) a definition from the web or as the CLI's --author.
AUTHOR_ROLES = frozenset({SUPERVISOR, QA, QC_ANALYST})
NEW_VERSION, NEW_REVISION, UNCHANGED, REFUSED = "new version", "new revision", "unchanged", "refused"
DEFINITION_SUFFIXES = (".yaml", ".yml")


@dataclass
class LoadResult:
    """What loading one file did: the row it created or matched, or the problems refusing it."""

    filename: str
    outcome: str
    row: Any = None
    problems: list[str] = field(default_factory=list)


def event_prefix(model: type) -> str:
    """The audit action prefix of a definition kind: 'mbr' or 'qc_spec' (from the table name)."""
    return model.__tablename__.removesuffix("_versions")


def _actor(user: User | None, what: str) -> Actor:
    return Actor.of(user) if user is not None else Actor.system(what)


def _check_author(author: User | None) -> None:
    if author is not None:  # None: the server console, recorded as the system
        require_roles(author, AUTHOR_ROLES, "load a definition")


def _check_lengths(model: type, definition: Any, filename: str) -> None:
    """Refuse values the table cannot hold, before the database would (PostgreSQL is strict)."""
    columns = model.__table__.c
    values = {"code": definition.code, "title": definition.title, "product": definition.product,
              "source_file": os.path.basename(filename)}  # fmt: skip
    line_of = getattr(definition, "line_of", lambda _key: 1)  # templates know their lines
    problems = [f"{filename}:{line_of(name)}: {name} is longer than {columns[name].type.length} "
                f"characters ({len(value)}); shorten it"
                for name, value in values.items() if len(value) > columns[name].type.length]  # fmt: skip
    if problems:
        raise DefinitionError(problems)


def load_text(
    session: Session, model: type[Row], parse: Parse, text: str, filename: str,
    author: User | None,
) -> tuple[Row, str]:  # fmt: skip
    """Store a definition file as a new Draft, unless this exact text is stored already.

    Returns the new or matching row and the outcome (new version, new revision, unchanged).
    An invalid file raises DefinitionError ('file:line: problem' each) and stores nothing.
    """
    _check_author(author)
    definition = parse(text, filename)
    _check_lengths(model, definition, filename)
    sha = sha256_text(text)
    existing = session.scalars(
        select(model).where(model.code == definition.code, model.version == definition.version)
    ).all()
    for row in existing:
        if row.source_sha256 == sha:
            return row, UNCHANGED
    row = model(
        code=definition.code, version=definition.version,
        revision=max((r.revision for r in existing), default=0) + 1,
        title=definition.title, product=definition.product, status=DefinitionStatus.DRAFT,
        source_file=os.path.basename(filename), source_text=text, source_sha256=sha,
        loaded_at=utcnow(), loaded_by_id=author.id if author else None,
        loaded_by_name=_actor(author, "console load").name,
    )  # fmt: skip
    prefix = event_prefix(model)
    with audit.action(session, f"{prefix}.loaded", _actor(author, f"{prefix} load"),
                      file=row.source_file, sha256=sha):  # fmt: skip
        session.add(row)
    return row, NEW_REVISION if existing else NEW_VERSION


def load_upload(
    session: Session, model: type[Row], parse: Parse, data: bytes, filename: str, author: User
) -> tuple[Row, str]:
    """`load_text` for an uploaded file: bad encoding or an invalid file is a refusal listing why."""
    try:
        # The same text as a checkout read with universal newlines, so the same SHA-256.
        text = data.decode("utf-8").replace("\r\n", "\n")
        return load_text(session, model, parse, text, filename, author)
    except UnicodeDecodeError:
        raise RuleViolation(f"{filename} is not UTF-8 text; nothing was stored.", status=400) from None
    except DefinitionError as exc:
        raise RuleViolation(f"{filename} was refused; nothing was stored.", reasons=exc.problems,
                            status=400) from None  # fmt: skip


def definition_files(path: Path) -> list[Path]:
    """The definition files at `path`: the file itself, or a directory's *.yaml, sorted."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise RuleViolation(f"{path} is neither a file nor a directory.", status=400)
    return sorted(p for p in path.iterdir() if p.is_file() and p.suffix in DEFINITION_SUFFIXES)


def load_directory(
    session: Session, model: type[Row], parse: Parse, path: Path, author: User | None
) -> list[LoadResult]:
    """Load every definition file at `path`; a refused file stores nothing, the others load."""
    results = []
    for file in definition_files(path):
        name = str(file)
        try:
            # Universal newlines: a CRLF checkout of the same file is the same definition.
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            results.append(LoadResult(name, REFUSED, problems=[f"{name}:0: cannot read: {exc}"]))
            continue
        try:
            row, outcome = load_text(session, model, parse, text, name, author)
        except DefinitionError as exc:
            results.append(LoadResult(name, REFUSED, problems=exc.problems))
            continue
        results.append(LoadResult(name, outcome, row))
    return results


def get_version(session: Session, model: type[Row], row_id: int) -> Row:
    """One stored version by id (404 when there is none)."""
    row = session.get(model, row_id)
    if row is None:
        raise NotFound("No such version.")
    return row


def list_versions(session: Session, model: type[Row], code: str | None = None) -> list[Row]:
    """Every stored version, by code, newest version and revision first."""
    query = select(model).order_by(model.code, model.version.desc(), model.revision.desc())
    if code is not None:
        query = query.where(model.code == code)
    return list(session.scalars(query))


def in_force_at(model: type, at: datetime) -> Any:
    """SQL condition: the version is in force at `at` (see docs/lifecycle.md)."""
    return (
        model.effective_from.is_not(None) & (model.effective_from <= at)
        & or_(model.superseded_at.is_(None), model.superseded_at > at)
        & or_(model.retired_at.is_(None), model.retired_at > at)
    )  # fmt: skip


def effective_version(
    session: Session, model: type[Row], code: str, at: datetime | None = None
) -> Row | None:
    """The version of `code` in force at `at` (default now): what a lot started then binds to."""
    return session.scalars(
        select(model).where(model.code == code, in_force_at(model, at or utcnow()))
        .order_by(model.effective_from.desc()).limit(1)
    ).first()  # fmt: skip


def effective_versions(session: Session, model: type[Row], at: datetime | None = None) -> list[Row]:
    """Every version in force at `at` (default now), one per code, by code."""
    query = select(model).where(in_force_at(model, at or utcnow())).order_by(model.code)
    return list(session.scalars(query))


def in_force(row: VersionedDefinition, at: datetime | None = None) -> bool:
    """Whether this version is in force at `at` (default now); the Python twin of the query."""
    at = at or utcnow()
    return (row.effective_from is not None and row.effective_from <= at
            and (row.superseded_at is None or row.superseded_at > at)
            and (row.retired_at is None or row.retired_at > at))  # fmt: skip


def _require_status(row: VersionedDefinition, allowed: Iterable[DefinitionStatus], doing: str) -> None:
    allowed = tuple(allowed)
    if row.status not in allowed:
        needed = " or ".join(s.value.capitalize() for s in allowed)
        raise RuleViolation(f"{row.label} is {row.status.value.capitalize()}: only {needed} "
                            f"versions can be {doing}.")  # fmt: skip


def _require_reason(reason: str | None, doing: str) -> str:
    if not (reason or "").strip():
        raise RuleViolation(f"A reason is required to {doing} a version "
                            "(e.g. the change control reference).", status=400)  # fmt: skip
    return reason.strip()


def approve(
    session: Session, qa_user: User, row: VersionedDefinition, credentials: Credentials,
    comment: str | None = None,
) -> None:  # fmt: skip
    """QA approves a Draft with an e-signature (meaning 'approved'); never its author."""
    _lock_code(session, row)
    _require_status(row, [DefinitionStatus.DRAFT], "approved")
    # The signature rule on the model enforces QA only and never the author.
    sign(session, qa_user, row, "approved", credentials, comment)
    with audit.action(session, f"{event_prefix(type(row))}.approved", Actor.of(qa_user)):
        row.status = DefinitionStatus.APPROVED
        row.approved_at = utcnow()


def _has_valid_approval(session: Session, row: VersionedDefinition) -> bool:
    return has_valid(signatures_of(session, row), "approved")


def _lock_code(session: Session, row: VersionedDefinition) -> list[Any]:
    """Lock every version of the row's code, so two QA users cannot both make one effective."""
    model = type(row)
    return list(session.scalars(
        select(model).where(model.code == row.code).with_for_update()
        .execution_options(populate_existing=True)
    ))  # fmt: skip


def make_effective(
    session: Session, qa_user: User, row: VersionedDefinition, effective_from: datetime | None,
    reason: str,
) -> None:  # fmt: skip
    """Make an Approved version Effective from a moment (None: now); the current one is superseded.

    One Effective version per code: the version Effective so far becomes Superseded in this same
    transaction, from the moment the new one takes over. A moment in the past is refused.
    """
    require_roles(qa_user, (QA,), "make a version effective")
    reason = _require_reason(reason, "make effective")
    now = utcnow()
    start = effective_from or now
    if start < now:
        raise RuleViolation("A version cannot become effective in the past: lots started "
                            "meanwhile were bound to the version then in force.", status=400)  # fmt: skip
    others = [r for r in _lock_code(session, row) if r.id != row.id]
    _require_status(row, [DefinitionStatus.APPROVED], "made effective")
    if not _has_valid_approval(session, row):
        raise RuleViolation(f"{row.label} has no valid QA approval signature.")
    current = [r for r in others if r.status == DefinitionStatus.EFFECTIVE]
    for old in current:
        if old.effective_from is not None and old.effective_from >= start:
            raise RuleViolation(f"{old.label} becomes effective on {format_site(old.effective_from)}; "
                                f"{row.label} must become effective after that.", status=400)  # fmt: skip
    with audit.action(session, f"{event_prefix(type(row))}.made_effective", Actor.of(qa_user),
                      reason=reason, version=row.label):  # fmt: skip
        for old in current:
            old.status = DefinitionStatus.SUPERSEDED
            old.superseded_at = start
        row.status = DefinitionStatus.EFFECTIVE
        row.effective_from = start


def retire(session: Session, qa_user: User, row: VersionedDefinition, reason: str) -> None:
    """QA retires a version for good (any status but Retired); no lot can start on it after.

    Retiring a version scheduled for a future date cancels that change: the version it would
    have superseded stays in force (Effective again, no end date).
    """
    require_roles(qa_user, (QA,), "retire a version")
    reason = _require_reason(reason, "retire")
    versions = _lock_code(session, row)
    if row.status == DefinitionStatus.RETIRED:
        raise RuleViolation(f"{row.label} is already Retired.")
    now = utcnow()
    scheduled = row.status == DefinitionStatus.EFFECTIVE and row.effective_from > now
    kept = [r for r in versions if scheduled and r.status == DefinitionStatus.SUPERSEDED
            and r.superseded_at == row.effective_from]  # fmt: skip
    with audit.action(session, f"{event_prefix(type(row))}.retired", Actor.of(qa_user),
                      reason=reason, version=row.label):  # fmt: skip
        row.status = DefinitionStatus.RETIRED
        row.retired_at = now
        for previous in kept:
            previous.status = DefinitionStatus.EFFECTIVE
            previous.superseded_at = None


def diff(old_row: VersionedDefinition, new_row: VersionedDefinition) -> list[str]:
    """Unified diff lines of the stored YAML of two versions of the same code."""
    if type(old_row) is not type(new_row) or old_row.code != new_row.code:
        raise RuleViolation("Only two versions of the same definition can be compared.", status=400)
    return list(difflib.unified_diff(
        old_row.source_text.splitlines(), new_row.source_text.splitlines(),
        fromfile=f"{old_row.label} ({old_row.source_file})",
        tofile=f"{new_row.label} ({new_row.source_file})", lineterm="",
    ))  # fmt: skip
