"""flask documents render-pending | dev-key | check FILE."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from app.audit.capture import Actor
from app.documents.services import lots_with_pending
from app.documents.services import render_pending as render_pending_of
from app.documents.services.pdfa import pdfa_problems
from app.documents.services.signing import make_dev_key
from app.extensions import db
from config import DEV_SIGNING_DIR

documents_cli = AppGroup("documents", help="Rendered documents: pending renderings, signing key, PDF/A checks.")


def ensure_dev_key(force: bool = False) -> tuple[Path, Path, bool]:
    """The development signing key under instance/; refused in production."""
    if current_app.config["ENV_NAME"] == "production":
        raise click.ClickException("a development signing key is refused in production: configure "
                                   "CELLBATCH_SIGNING_KEY and CELLBATCH_SIGNING_CERT")  # fmt: skip
    return make_dev_key(DEV_SIGNING_DIR, current_app.config["SITE_NAME"], force)


@documents_cli.command("dev-key")
@click.option("--force", is_flag=True, help="Replace an existing development key.")
def dev_key(force: bool) -> None:
    """Create a self-signed development key and certificate for PAdES signatures (not production)."""
    key, cert, created = ensure_dev_key(force)
    click.echo(f"{'Created' if created else 'Kept'} development signing key {key} and certificate {cert}.")


@documents_cli.command("render-pending")
def render_pending() -> None:
    """Render the disposition documents of every lot whose rendering after QA's decision failed."""
    actor = Actor.system("flask documents render-pending")
    lot_ids = lots_with_pending(db.session)
    for lot_id in lot_ids:
        stored = render_pending_of(db.session, lot_id, actor)
        click.echo(f"Lot id {lot_id}: stored {', '.join(d.filename for d in stored) or 'nothing (already rendered)'}.")
    click.echo(f"{len(lot_ids)} lot(s) had pending documents.")


@documents_cli.command("check")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def check(path: Path) -> None:
    """Check a PDF's PDF/A-3b claim as far as this machine can (not a veraPDF validation)."""
    problems = pdfa_problems(path.read_bytes())
    for problem in problems:
        click.echo(f"PROBLEM: {problem}", err=True)
    if problems:
        sys.exit(1)
    click.echo(f"OK: {path} claims PDF/A-3B and passed every check made here (see docs/documents.md).")
