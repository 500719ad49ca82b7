"""flask commands: init, seed-demo, users ..., audit verify (and the domain loaders)."""

from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from app.audit import capture as audit
from app.audit.capture import Actor
from app.audit.chain import verify_chain
from app.auth import services as users_service
from app.auth.policy import AccountPolicy
from app.common.db import unit_of_work
from app.common.errors import RuleViolation
from app.extensions import db

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

users_cli = AppGroup("users", help="Manage user accounts from the server console.")
audit_cli = AppGroup("audit", help="Audit trail checks.")


def register(app: Flask) -> None:
    app.cli.add_command(init)
    app.cli.add_command(seed_demo)
    app.cli.add_command(users_cli)
    app.cli.add_command(audit_cli)


def _fail(exc: RuleViolation) -> None:
    click.echo(f"Refused: {exc.message}", err=True)
    for reason in exc.reasons:
        click.echo(f"  - {reason}", err=True)
    sys.exit(2)


@click.command("init")
def init() -> None:
    """Apply migrations and load master batch records and QC specifications."""
    from flask_migrate import upgrade

    upgrade()
    click.echo("Database migrated.")
    for loader in current_app.extensions.get("cellbatch.loaders", []):
        loader()


@click.command("seed-demo")
def seed_demo() -> None:
    """Create one demo user per role (development only) and print their logins."""
    if current_app.config["ENV_NAME"] == "production":
        raise click.ClickException("seed-demo is refused in production")
    policy = AccountPolicy.current()
    with unit_of_work(db.session) as session:
        for username, full_name, roles in DEMO_USERS:
            if users_service.find_user(session, username) is None:
                user = users_service.create_user(session, None, username, full_name, roles,
                                                 DEMO_PASSWORD, policy)  # fmt: skip
                # Demo accounts skip the forced first change so a new user sees the system at once.
                with audit.action(session, "user.demo_seeded", Actor.system("flask seed-demo")):
                    user.must_change_password = False
    click.echo("Demo users (development only), password for all: " + DEMO_PASSWORD)
    for username, full_name, roles in DEMO_USERS:
        click.echo(f"  {username:<10} {', '.join(roles):<11} {full_name}")


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


@audit_cli.command("verify")
def audit_verify() -> None:
    """Recompute the audit chain; exit 1 naming the first broken event."""
    with db.engine.connect() as connection:
        report = verify_chain(connection)
    if report.ok:
        click.echo(f"OK: {report.count} audit events verified; head {report.head_hash}")
        return
    click.echo(f"BROKEN at audit event {report.broken_id}: {report.problem} "
               f"({report.count} events verified before it)", err=True)  # fmt: skip
    sys.exit(1)
