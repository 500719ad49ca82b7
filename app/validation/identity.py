"""What system was qualified: code, dependencies, platform and configuration (IQ evidence).

Git is only read (rev-parse, status without optional locks); nothing here changes the tree.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import platform
import socket
import sqlite3
import subprocess  # noqa: S404 - fixed git commands, no shell, no user input
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
#: The distributions whose versions identify the qualified system (runtime first, then test tools).
PACKAGES = (
    "cellbatch", "flask", "flask-sqlalchemy", "flask-migrate", "flask-wtf", "flask-login", "flask-limiter",
    "sqlalchemy", "alembic", "argon2-cffi", "psycopg", "pyyaml", "weasyprint", "segno", "pyhanko", "pypdf",
    "gunicorn", "werkzeug", "jinja2", "pytest", "hypothesis", "freezegun", "playwright",
)  # fmt: skip
#: Settings that define behaviour a site validates; never a secret (keys, passwords, URLs with them).
CONFIG_KEYS = (
    "SITE_NAME", "SITE_TIMEZONE", "PASSWORD_MIN_LENGTH", "PASSWORD_MAX_AGE_DAYS", "LOCKOUT_THRESHOLD",
    "LOCKOUT_MINUTES", "IDLE_TIMEOUT_MINUTES", "LOGIN_RATE_LIMIT", "ESIG_POLICY_VERSION", "LOT_NUMBER_PATTERN",
    "ISBT128_FIN", "PUBLIC_BASE_URL", "SHELF_LIFE_MONTHS", "VERIFY_MAX_BYTES", "VERIFY_RATE_LIMIT",
    "MAX_CONTENT_LENGTH", "ARGON2_TIME_COST", "ARGON2_MEMORY_COST", "ARGON2_PARALLELISM",
    "SIGNING_PASSWORD_MEMORY", "PROXY_HOPS",
)  # fmt: skip


def sha256_file(path: Path) -> str | None:
    if not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", "--no-optional-locks", *args], cwd=ROOT, capture_output=True, text=True,  # noqa: S603, S607
                              timeout=30, check=True)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout


def git_identity() -> dict[str, Any]:
    """The commit, and every path that differs from it (a report from a modified tree says so)."""
    status = _git("status", "--porcelain", "--untracked-files=all") or ""
    changed = [line[3:] for line in status.splitlines() if line.strip()]  # "XY path": never strip the XY
    commit, branch, describe = (((_git(*args) or "").strip() or None) for args in (
        ("rev-parse", "HEAD"), ("rev-parse", "--abbrev-ref", "HEAD"), ("describe", "--always", "--dirty")))
    return {"commit": commit, "branch": branch, "describe": describe, "modified_paths": len(changed),
            "modified_sample": changed[:20]}  # fmt: skip


def package_versions() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def migration_head() -> str | None:
    """The Alembic head revision the schema is built to."""
    try:
        from alembic.config import Config
        from alembic.script import ScriptDirectory

        config = Config()
        config.set_main_option("script_location", str(ROOT / "migrations"))
        return ", ".join(ScriptDirectory.from_config(config).get_heads()) or None
    except Exception as exc:  # noqa: BLE001 - reported, never fatal
        return f"unknown ({type(exc).__name__})"


def configuration(config: Mapping[str, Any]) -> dict[str, Any]:
    """The validated, non-secret settings of the configuration a site runs (Flask's app.config)."""
    values = {key: config.get(key) for key in CONFIG_KEYS}
    values["ENV_NAME"] = config.get("ENV_NAME")
    values["DOCUMENT_SIGNING_KEY_CONFIGURED"] = bool(config.get("SIGNING_KEY"))
    values["DATABASE_ENGINE"] = str(config.get("SQLALCHEMY_DATABASE_URI", "")).split(":", 1)[0]
    return {k: (v if isinstance(v, (str, int, bool, dict)) or v is None else str(v)) for k, v in values.items()}


def machine() -> dict[str, str]:
    uname = platform.uname()
    return {"hostname": socket.gethostname(), "system": uname.system, "release": uname.release,
            "version": uname.version, "architecture": uname.machine, "platform": platform.platform(),
            "cpus": str(os.cpu_count() or "?"), "user": _user()}  # fmt: skip


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def system_identity(config: Mapping[str, Any]) -> dict[str, Any]:
    """Everything that identifies the qualified system, as JSON-safe data (no floats)."""
    return {
        "product": "cellbatch", "git": git_identity(),
        "lock_file": {"path": "requirements.lock", "sha256": sha256_file(ROOT / "requirements.lock")},
        "register": {"path": "docs/requirements.yaml", "sha256": sha256_file(ROOT / "docs" / "requirements.yaml")},
        "python": {"version": platform.python_version(), "implementation": platform.python_implementation()},
        "sqlite_library": sqlite3.sqlite_version, "migration_head": migration_head(),
        "packages": package_versions(), "machine": machine(), "configuration": configuration(config),
    }  # fmt: skip
