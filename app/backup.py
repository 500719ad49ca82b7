"""`flask backup`: a consistent copy of the whole database (EU GMP Annex 11 §7, 21 CFR 11.10(c)).

PostgreSQL: `pg_dump --format=custom` of the configured database (one snapshot, so a copy taken
while users work is consistent). SQLite: the online-backup API, which copies a consistent
snapshot page by page while the application keeps running. Restoring is a documented manual
step followed by `flask audit verify`: see docs/backup-restore.md.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.engine import URL, make_url

from app.audit import capture as audit
from app.audit.capture import Actor
from app.common.db import unit_of_work
from app.common.timeutil import utcnow
from app.extensions import db


class BackupFailed(click.ClickException):
    """The backup could not be written; nothing usable was left at the output path."""


def libpq_target(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection string without the password, and the environment carrying it.

    The password goes in PGPASSWORD, never on the command line (other users can read `ps`).
    """
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def backup_postgresql(url: URL, output: Path) -> None:
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise BackupFailed("pg_dump is not installed (Debian: apt-get install postgresql-client)")
    target, env = libpq_target(url)
    command = [pg_dump, "--format=custom", "--no-password", f"--file={output}", f"--dbname={target}"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        output.unlink(missing_ok=True)
        raise BackupFailed(f"pg_dump failed: {done.stderr.strip()}")


def backup_sqlite(url: URL, output: Path) -> None:
    source_path = url.database
    if source_path in (None, "", ":memory:"):
        raise BackupFailed("an in-memory SQLite database cannot be backed up")
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
    target = sqlite3.connect(output)
    try:
        source.backup(target)  # the online-backup API: a consistent snapshot while others write
    except sqlite3.Error as exc:
        target.close()
        output.unlink(missing_ok=True)
        raise BackupFailed(f"SQLite backup failed: {exc}") from None
    finally:
        source.close()
    target.close()


def default_output(dialect: str) -> Path:
    suffix = "dump" if dialect == "postgresql" else "sqlite3"
    return Path(current_app.instance_path) / "backups" / f"cellbatch-{utcnow():%Y%m%dT%H%M%SZ}.{suffix}"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


@click.command("backup")
@click.option("--output", "output", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write (default: instance/backups/cellbatch-<UTC time>.dump|.sqlite3).")  # fmt: skip
@with_appcontext
def backup_command(output: Path | None) -> None:
    """Back up the whole database (pg_dump custom format, or SQLite online backup)."""
    url = make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])
    dialect = url.get_backend_name()
    if dialect not in ("postgresql", "sqlite"):
        raise BackupFailed(f"no backup method for {dialect}")
    output = output or default_output(dialect)
    if output.exists():
        raise BackupFailed(f"{output} exists; a backup never overwrites a file")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.touch(mode=0o600)  # the copy holds password hashes and GMP records: owner only
    (backup_postgresql if dialect == "postgresql" else backup_sqlite)(url, output)
    digest = sha256_file(output)
    # The backup is an export of every record: recorded (after the snapshot, so not inside it).
    with unit_of_work(db.session) as session:
        audit.record(session, "backup.created", Actor.system("flask backup"), file=output.name,
                     sha256=digest, size=output.stat().st_size, engine=dialect)  # fmt: skip
    click.echo(f"Backup written: {output} ({output.stat().st_size} bytes, sha256 {digest})")
    click.echo("Restore it as described in docs/backup-restore.md, then run `flask audit verify`.")
