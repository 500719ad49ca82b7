"""Backup and restore (issue #11 point 5; EU GMP Annex 11 §7.2, 21 CFR 11.10(c)).

`flask backup` copies a database holding a released lot with its documents; the copy is restored
into a fresh database exactly as docs/backup-restore.md says, and there `flask audit verify`
passes, every table holds the same rows and every document the same bytes (SHA-256).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess

import pytest
import sqlalchemy as sa

from app.backup import libpq_target
from tests.hardening.conftest import Site, build_app, released_lot_site

pytestmark = pytest.mark.req("URS-DAT-004")
BACKUP_EVENT = "backup.created"


def _documents(site: Site) -> dict[int, tuple[str, str]]:
    """id -> (the stored sha256, the SHA-256 of the stored bytes)."""
    with site.app.app_context():
        from app.extensions import db

        rows = db.session.execute(sa.text("SELECT id, sha256, content FROM documents")).all()
        db.session.remove()
    return {row.id: (row.sha256, hashlib.sha256(bytes(row.content)).hexdigest()) for row in rows}


def _check_restored(source: Site, restored: Site, before: dict) -> None:
    verified = restored.flask("audit", "verify")
    assert verified.exit_code == 0, verified.output
    assert "Records OK" in verified.output
    assert restored.dump() == before  # every row of every table, documents by their SHA-256
    documents = _documents(restored)
    assert len(documents) == 3 and all(stored == actual for stored, actual in documents.values())
    assert documents == _documents(source)
    # The backup itself was recorded in the source, after its snapshot (so not in the copy).
    assert source.scalar("SELECT action FROM audit_events ORDER BY id DESC LIMIT 1") == BACKUP_EVENT
    assert restored.scalar(f"SELECT count(*) FROM audit_events WHERE action = '{BACKUP_EVENT}'") == 0  # noqa: S608


def test_sqlite_backup_restores_into_a_new_file_and_verifies(tmp_path):
    source, released = released_lot_site(f"sqlite:///{tmp_path / 'site.sqlite3'}", tmp_path / "site.sqlite3")
    restored = None
    try:
        before = source.dump()
        assert released.lot.status == "released"
        output = tmp_path / "backups" / "nightly.sqlite3"
        result = source.flask("backup", "--output", str(output))
        assert result.exit_code == 0, result.output
        assert f"sha256 {hashlib.sha256(output.read_bytes()).hexdigest()}" in result.output
        assert output.stat().st_mode & 0o077 == 0  # readable by the owner only
        again = source.flask("backup", "--output", str(output))
        assert again.exit_code != 0 and "never overwrites" in again.output
        # docs/backup-restore.md, SQLite: copy the backup file to a new path, point the app at it.
        shutil.copyfile(output, tmp_path / "restored.sqlite3")
        url = f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        restored = Site(url, build_app(url))
        _check_restored(source, restored, before)
    finally:
        source.close()
        if restored is not None:
            restored.close()


@pytest.mark.postgres
def test_postgres_backup_restores_into_a_fresh_database_and_verifies(pg_databases, tmp_path):
    source, _ = released_lot_site(pg_databases.url(pg_databases.create("backup_src")))
    restored = None
    try:
        before = source.dump()
        output = tmp_path / "cellbatch.dump"
        result = source.flask("backup", "--output", str(output))
        assert result.exit_code == 0, result.output
        # docs/backup-restore.md, PostgreSQL: createdb, then pg_restore into the empty database.
        url = pg_databases.url(pg_databases.create("restored"))
        target, env = libpq_target(sa.make_url(url))
        command = [shutil.which("pg_restore") or "pg_restore", "--no-owner", "--exit-on-error",
                   f"--dbname={target}", str(output)]  # fmt: skip
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
        assert done.returncode == 0, done.stderr
        restored = Site(url, build_app(url))
        _check_restored(source, restored, before)
        # The restored database keeps its append-only triggers.
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            restored.run("UPDATE audit_events SET reason = 'x' WHERE id = 1")
    finally:
        source.close()
        if restored is not None:
            restored.close()
