"""flask commands: init, seed-demo, templates load, specs load, users ..., audit verify."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from app.audit import capture as audit
from app.audit.capture import Actor
from app.audit.parallel import Task, TrailVerifier, default_jobs
from app.auth import services as users_service
from app.auth.policy import AccountPolicy
from app.backup import backup_command
from app.common.db import unit_of_work
from app.common.errors import RuleViolation
from app.common.timeutil import utcnow
from app.documents.cli import documents_cli, ensure_dev_key
from app.extensions import db
from app.mbr import services as definitions
from app.mbr.models import TemplateVersion
from app.mbr.schema import parse_template
from app.mbr.versioning import DefinitionStatus
from app.qc.models import SpecVersion
from app.qc.spec_schema import parse_spec
from app.signatures.services import Credentials
from config import BASE_DIR

DEMO_PASSWORD = "cellbatch-demo-2026"  # noqa: S105 - development demo only, refused in production
DEMO_USERS = (
    ("op.olivia", "Olivia Okafor", ["operator"]),
    ("op.oscar", "Oscar Lindqvist", ["operator"]),
    ("sup.sam", "Samira Haddad", ["supervisor"]),
    ("qc.quinn", "Quinn Tanaka", ["qc_analyst"]),
    ("qc.ravi", "Ravi Menon", ["qc_analyst"]),
    ("qa.alex", "Alex Moreau", ["qa"]),
    ("qa.bea", "Beatriz Costa", ["qa"]),
    ("aud.erin", "Erin Walsh", ["auditor"]),
    ("admin", "Site Administrator", ["admin"]),
)
#: The demo QA user who approves the shipped definitions (never their author: CLI loads have none).
DEMO_QA = "qa.alex"
#: The shipped definitions: (label, model, parse function, default directory).
TEMPLATES = ("Master batch records", TemplateVersion, parse_template, BASE_DIR / "batch_templates")
SPECS = ("QC specifications", SpecVersion, parse_spec, BASE_DIR / "qc_specs")
#: Rows of one table a worker process replays at a time (`flask audit verify` in processes): small
#: enough that the processes finish together, a second or two each.
REPLAY_ROWS_PER_TASK = 20_000

users_cli = AppGroup("users", help="Manage user accounts from the server console.")
audit_cli = AppGroup("audit", help="Audit trail checks.")
templates_cli = AppGroup("templates", help="Master batch records (batch_templates/*.yaml).")
specs_cli = AppGroup("specs", help="QC release specifications (qc_specs/*.yaml).")


def register(app: Flask) -> None:
    app.cli.add_command(init)
    app.cli.add_command(seed_demo)
    app.cli.add_command(users_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(templates_cli)
    app.cli.add_command(specs_cli)
    app.cli.add_command(documents_cli)
    app.cli.add_command(backup_command)


def _fail(exc: RuleViolation) -> None:
    click.echo(f"Refused: {exc.message}", err=True)
    for reason in exc.reasons:
        click.echo(f"  - {reason}", err=True)
    sys.exit(2)


@click.command("init")
@with_appcontext
def init() -> None:
    """Apply migrations and load master batch records and QC specifications."""
    from flask_migrate import upgrade

    upgrade()
    click.echo("Database migrated.")
    if current_app.config["ENV_NAME"] != "production":
        key, _, created = ensure_dev_key()
        click.echo(f"Development document signing key {'created' if created else 'present'}: {key.parent}")
    # Both kinds are loaded even if the first has a refused file, so every problem is shown.
    loaded = [_load(kind, None, None) for kind in (TEMPLATES, SPECS)]
    if not all(loaded):
        sys.exit(1)


def _load(kind: tuple, path: Path | None, author_name: str | None) -> bool:
    """Load definition files, print what happened to each; False if any file was refused."""
    label, model, parse, default_dir = kind
    try:
        with unit_of_work(db.session) as session:
            author = None
            if author_name is not None:
                author = users_service.find_user(session, author_name)
                if author is None:
                    raise RuleViolation(f"No user {author_name!r}.")
            results = definitions.load_directory(session, model, parse, _shown(path or default_dir), author)
            lines = [_describe(result) for result in results]
    except RuleViolation as exc:
        _fail(exc)
    counts = {o: sum(r.outcome == o for r in results) for o in (definitions.NEW_VERSION,
              definitions.NEW_REVISION, definitions.UNCHANGED, definitions.REFUSED)}  # fmt: skip
    for result, line in zip(results, lines, strict=True):
        click.echo(line, err=result.outcome == definitions.REFUSED)
    click.echo(f"{label}: " + ", ".join(f"{n} {o}" for o, n in counts.items()) + ".")
    return counts[definitions.REFUSED] == 0


def _shown(path: Path) -> Path:
    """The path as the user would type it: relative to the working directory when inside it."""
    try:
        return path.resolve().relative_to(Path.cwd())
    except ValueError:
        return path


def _describe(result: definitions.LoadResult) -> str:
    """One line per file (and one per problem of a refused file)."""
    if result.outcome == definitions.REFUSED:
        return "\n".join([f"REFUSED    {result.filename} (nothing stored)"]
                         + [f"    {problem}" for problem in result.problems])  # fmt: skip
    row = result.row
    return (f"{result.outcome:<13} {row.label} ({row.status.value}) from {result.filename}, "
            f"sha256 {row.source_sha256[:16]}…")


@templates_cli.command("load")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--author", "author", metavar="USERNAME", help="The user who authored the files.")
def templates_load(path: Path | None, author: str | None) -> None:
    """Load master batch records (default: batch_templates/); exit 1 if any file is refused."""
    if not _load(TEMPLATES, path, author):
        sys.exit(1)


@specs_cli.command("load")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--author", "author", metavar="USERNAME", help="The user who authored the files.")
def specs_load(path: Path | None, author: str | None) -> None:
    """Load QC specifications (default: qc_specs/); exit 1 if any file is refused."""
    if not _load(SPECS, path, author):
        sys.exit(1)


@click.command("seed-demo")
@click.option("--lots/--no-lots", default=True, help="Also create the three demo lots (first run only).")
@with_appcontext
def seed_demo(lots: bool) -> None:
    """Create the demo site: users, effective definitions, stock, training and lots (development only)."""
    if current_app.config["ENV_NAME"] == "production":
        raise click.ClickException("seed-demo is refused in production")
    first_run = users_service.find_user(db.session, DEMO_USERS[0][0]) is None
    if first_run and lots:
        _seed_history()
    else:
        _seed_site()
    click.echo("Demo users (development only), password for all: " + DEMO_PASSWORD)
    for username, full_name, roles in DEMO_USERS:
        click.echo(f"  {username:<10} {', '.join(roles):<11} {full_name}")


def _seed_site() -> None:
    """Users, shipped definitions made effective, stock and training: idempotent."""
    from app.inventory.seed import seed_demo_inventory
    from app.training.services import seed_demo_training

    policy = AccountPolicy.current()
    try:
        with unit_of_work(db.session) as session:
            for username, full_name, roles in DEMO_USERS:
                if users_service.find_user(session, username) is None:
                    user = users_service.create_user(session, None, username, full_name, roles,
                                                     DEMO_PASSWORD, policy)  # fmt: skip
                    # Demo accounts skip the forced first change so a new user sees the system at once.
                    with audit.action(session, "user.demo_seeded", Actor.system("flask seed-demo")):
                        user.must_change_password = False
        with unit_of_work(db.session) as session:
            for line in [line for kind in (TEMPLATES, SPECS) for line in _make_shipped_effective(session, kind)]:
                click.echo(line)
        with unit_of_work(db.session) as session:
            seed_demo_inventory(session, Actor.system("flask seed-demo"))
            codes = [row.code for row in definitions.effective_versions(session, TemplateVersion)]
            seed_demo_training(session, users_service.find_user(session, "sup.sam"),
                               ["op.olivia", "op.oscar"], codes)  # fmt: skip
    except RuleViolation as exc:
        _fail(exc)


def _seed_history() -> None:
    """The whole demo on one simulated timeline that starts 75 days ago and ends an hour ago."""
    from freezegun import freeze_time  # development only: the demo's history is simulated

    from app.demo import seed_lots

    real_now = utcnow()
    with freeze_time(real_now - timedelta(days=75), tick=True) as frozen:
        _seed_site()
        click.echo("Simulating ten weeks of production (three lots, real signatures)...")
        for line in seed_lots(db.session, DEMO_PASSWORD, frozen.move_to, real_now - timedelta(hours=1)):
            click.echo("  " + line)


def _make_shipped_effective(session: Session, kind: tuple) -> list[str]:
    """Approve and make effective the shipped files' versions, through the real services."""
    label, model, parse, directory = kind
    results = definitions.load_directory(session, model, parse, _shown(directory), None)
    for problem in (p for r in results for p in r.problems):
        click.echo(f"Not made effective (invalid file): {problem}", err=True)
    qa = users_service.find_user(session, DEMO_QA)
    # The demo password is known here; the ceremony (re-authentication, policy) is the real one.
    creds = Credentials(DEMO_PASSWORD, username=DEMO_QA, username_required=True, accept_policy=True)
    done = []
    for row in sorted({r.row for r in results if r.row is not None}, key=lambda r: (r.code, r.version, r.revision)):
        if row.status == DefinitionStatus.DRAFT:
            definitions.approve(session, qa, row, creds, "Demo data: shipped example")
        current = definitions.effective_version(session, model, row.code)
        newer = current is None or (current.version, current.revision) < (row.version, row.revision)
        if row.status == DefinitionStatus.APPROVED and newer:
            definitions.make_effective(session, qa, row, None, "Demo data: flask seed-demo")
            done.append(f"Effective: {row.label} ({label}, approved by {DEMO_QA})")
    return done


@users_cli.command("create")
@click.argument("username")
@click.option("--full-name", required=True)
@click.option("--role", "roles", multiple=True, required=True)
@click.password_option("--password", help="Initial password (asked for if not given).")
def users_create(username: str, full_name: str, roles: tuple[str, ...], password: str) -> None:
    """Create a user; they must change the password at first login."""
    try:
        with unit_of_work(db.session) as session:
            users_service.create_user(session, None, username, full_name, list(roles), password,
                                      AccountPolicy.current())  # fmt: skip
    except RuleViolation as exc:
        _fail(exc)
    click.echo(f"Created {username.lower()}.")


def _with_user(username: str, apply) -> None:  # type: ignore[no-untyped-def]
    try:
        with unit_of_work(db.session) as session:
            user = users_service.find_user(session, username)
            if user is None:
                raise RuleViolation(f"No user {username!r}.")
            apply(session, user)
    except RuleViolation as exc:
        _fail(exc)


@users_cli.command("deactivate")
@click.argument("username")
@click.option("--reason", required=True)
def users_deactivate(username: str, reason: str) -> None:
    """Deactivate an account (users are never deleted)."""
    _with_user(username, lambda s, u: users_service.set_active(s, None, u, False, reason))
    click.echo(f"Deactivated {username}.")


@users_cli.command("unlock")
@click.argument("username")
@click.option("--reason", required=True)
def users_unlock(username: str, reason: str) -> None:
    """Lift a lockout."""
    _with_user(username, lambda s, u: users_service.unlock(s, None, u, reason))
    click.echo(f"Unlocked {username}.")


def _record_checks(connection: Connection, parallel: bool) -> list[Task]:
    """What `audit verify` checks after the chain, as (function, arguments) called with a connection:
    in worker processes the replay of the records is cut into id ranges of each table."""
    from app.audit.integrity import check_all, replay_tasks
    from app.documents.integrity import check_documents
    from app.signatures.integrity import check_signatures

    replay = replay_tasks(connection, db.Model, REPLAY_ROWS_PER_TASK) if parallel else [(check_all, (db.Model,))]
    return [*replay, (check_signatures, ()), (check_documents, ())]


@audit_cli.command("verify")
@click.option("--jobs", type=click.IntRange(min=1), default=default_jobs, show_default="the CPU count",
              help="Processes verifying; 1 verifies everything in this process alone.")  # fmt: skip
def audit_verify(jobs: int) -> None:
    """Verify the audit chain, then every record and signature against the trail; exit 1 if not."""
    from app import MODEL_MODULES
    from app.signatures.integrity import check_signatures

    with db.engine.connect() as connection, TrailVerifier(connection, jobs, modules=MODEL_MODULES) as verifier:
        report = verifier.chain()
        if not report.ok:
            click.echo(f"BROKEN at audit event {report.broken_id}: {report.problem} "
                       f"({report.count} events verified before it)", err=True)  # fmt: skip
            sys.exit(1)
        click.echo(f"Chain OK: {report.count} audit events verified; head {report.head_hash}")
        # The signature check is one long piece: started first, it ends with the table ranges.
        mismatches = verifier.records(_record_checks, start_first=(check_signatures,))
    for mismatch in mismatches:
        click.echo(f"CHANGED OUTSIDE THE APPLICATION: {mismatch}", err=True)
    if mismatches:
        sys.exit(1)
    click.echo("Records OK: every record, signature and document matches its audit trail.")
