"""Configuration classes; every setting can be overridden by a CELLBATCH_* environment variable."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("CELLBATCH_INSTANCE_PATH", BASE_DIR / "instance"))


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"CELLBATCH_{name}", default)


def _env_int(name: str, default: int) -> int:
    return int(_env(name, str(default)))


#: OWASP Password Storage Cheat Sheet, argon2id: settings of equal strength, trading memory for
#: passes (memory in KiB per time cost, parallelism 1). The least a production site may configure.
OWASP_ARGON2ID_MIN_MEMORY_KIB = {1: 47104, 2: 19456, 3: 12288, 4: 9216, 5: 7168}


def argon2_problems(time_cost: int, memory_cost: int, parallelism: int) -> list[str]:
    """Why these argon2id parameters are weaker than OWASP's minimum (empty when they are not)."""
    if time_cost < 1 or parallelism < 1:
        return ["CELLBATCH_ARGON2_TIME_COST and CELLBATCH_ARGON2_PARALLELISM must be at least 1"]
    floor = OWASP_ARGON2ID_MIN_MEMORY_KIB[min(time_cost, max(OWASP_ARGON2ID_MIN_MEMORY_KIB))]
    if memory_cost < floor:
        return [f"CELLBATCH_ARGON2_MEMORY_COST={memory_cost} KiB with TIME_COST={time_cost} is below OWASP's "
                f"minimum for argon2id ({floor} KiB at that time cost)"]  # fmt: skip
    return []


def _dev_secret_key() -> str:
    """Generate a per-machine development secret once, kept under instance/ (never committed)."""
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    key_file = INSTANCE_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


#: Where `flask documents dev-key` writes the development document signing key (never production).
DEV_SIGNING_DIR = INSTANCE_DIR / "document-signing"


def _dev_file(path: Path) -> str | None:
    return str(path) if path.exists() else None


class Config:
    """Settings shared by every environment."""

    SITE_NAME = _env("SITE_NAME", "cellbatch demo facility")
    #: IANA zone in which times are displayed; storage is always UTC.
    SITE_TIMEZONE = _env("SITE_TIMEZONE", "Europe/Berlin")
    SQLALCHEMY_DATABASE_URI = _env(
        "DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'cellbatch.sqlite3'}"
    )
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    WTF_CSRF_TIME_LIMIT = None  # tie CSRF tokens to the session, which itself expires when idle
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_NAME = "cellbatch_session"

    # 21 CFR 11.300 / Annex 11 §12 access controls, all configurable per site.
    PASSWORD_MIN_LENGTH = _env_int("PASSWORD_MIN_LENGTH", 12)
    PASSWORD_MAX_AGE_DAYS = _env_int("PASSWORD_MAX_AGE_DAYS", 180)  # 0 disables ageing
    LOCKOUT_THRESHOLD = _env_int("LOCKOUT_THRESHOLD", 5)
    LOCKOUT_MINUTES = _env_int("LOCKOUT_MINUTES", 30)
    IDLE_TIMEOUT_MINUTES = _env_int("IDLE_TIMEOUT_MINUTES", 15)
    LOGIN_RATE_LIMIT = _env("LOGIN_RATE_LIMIT", "20 per minute")
    # argon2id cost of every password check: login and each e-signature (11.200) re-verify the
    # password. Default: OWASP's recommended minimum (19 MiB, 2 passes, 1 lane), of the strength
    # of its other argon2id settings. The library's default (64 MiB, 3 passes, 4 lanes, RFC 9106's
    # second choice) costs ~8x the CPU per check (benchmarks/, issue #10): on 2 cores it alone kept
    # a signature above 100 ms. A site may raise these, never go below OWASP (ProductionConfig);
    # existing hashes keep working and are rehashed at the owner's next login.
    ARGON2_TIME_COST = _env_int("ARGON2_TIME_COST", 2)
    ARGON2_MEMORY_COST = _env_int("ARGON2_MEMORY_COST", 19456)  # KiB
    ARGON2_PARALLELISM = _env_int("ARGON2_PARALLELISM", 1)
    # A signature's re-entered password is checked against a keyed digest, held only in the
    # worker's memory, of the password proved by argon2id earlier in the same login session
    # (app/auth/password_memory.py says why that is as safe); 0: argon2id at every signature.
    SIGNING_PASSWORD_MEMORY = bool(_env_int("SIGNING_PASSWORD_MEMORY", 1))
    #: How many reverse proxies (nginx, a load balancer) stand in front of the app. Behind one, the
    #: client address of audit events, signatures and the login rate limit is the proxy's unless
    #: its X-Forwarded-For is trusted; trusting more hops than exist lets a client forge it. 0: none.
    PROXY_HOPS = _env_int("PROXY_HOPS", 0)
    RATELIMIT_STORAGE_URI = _env("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_HEADERS_ENABLED = True

    # Electronic signature policy users accept with their first signature (11.10(j), 11.100(c)).
    ESIG_POLICY_VERSION = _env("ESIG_POLICY_VERSION", "1")
    ESIG_POLICY_TEXT = _env(
        "ESIG_POLICY_TEXT",
        "I understand that my electronic signature in this system is the legally binding "
        "equivalent of my handwritten signature (21 CFR 11.100(c)). I will not share my "
        "password, and I will sign only records I have performed, verified, reviewed or "
        "approved myself.",
    )
    LOT_NUMBER_PATTERN = _env("LOT_NUMBER_PATTERN", "{product}-{yyyy}-{seq:04d}")
    #: The site's ISBT 128 Facility Identification Number from its ICCBBA licence (e.g. "A9999").
    #: Lots started while it is set get a Donation Identification Number; unset, they carry none.
    #: cellbatch must then be the only issuer of DINs under this FIN.
    ISBT128_FIN = _env("ISBT128_FIN") or None

    # Documents (issue #8). The QR code of every PDF points at PUBLIC_BASE_URL/verify/doc/<id>.
    PUBLIC_BASE_URL = _env("PUBLIC_BASE_URL", "http://127.0.0.1:5000")
    #: PEM paths of the site's document signing key and certificate (PAdES); unset: unsigned.
    SIGNING_KEY = _env("SIGNING_KEY")
    SIGNING_CERT = _env("SIGNING_CERT")
    #: Shelf life per master batch record code, in months, printed as the CoA's expiry date
    #: (facility values, check): JSON, e.g. {"XS411-DA-NPC": 12}. A product without one
    #: gets "not assigned".
    SHELF_LIFE_MONTHS = json.loads(_env("SHELF_LIFE_MONTHS", '{"XS411-DA-NPC": 12, "XS228-MN-NPC": 12}') or "{}")
    #: Largest file the public verification page accepts.
    VERIFY_MAX_BYTES = _env_int("VERIFY_MAX_BYTES", 20 * 1024 * 1024)
    VERIFY_RATE_LIMIT = _env("VERIFY_RATE_LIMIT", "30 per minute")
    #: No request body may exceed this (CSRF checks read forms before any view can limit them).
    MAX_CONTENT_LENGTH = _env_int("MAX_CONTENT_LENGTH", 32 * 1024 * 1024)
    ENV_NAME = "base"
    TESTING = False


class DevelopmentConfig(Config):
    """Local development and the embedded SQLite demo (`make run`)."""

    ENV_NAME = "development"
    SECRET_KEY = _env("SECRET_KEY") or _dev_secret_key()
    # `flask init` makes a self-signed development key here (flask documents dev-key).
    SIGNING_KEY = _env("SIGNING_KEY") or _dev_file(DEV_SIGNING_DIR / "key.pem")
    SIGNING_CERT = _env("SIGNING_CERT") or _dev_file(DEV_SIGNING_DIR / "cert.pem")


class TestConfig(Config):
    """pytest: the database comes from CELLBATCH_TEST_DATABASE_URL or a temporary SQLite file."""

    ENV_NAME = "test"
    TESTING = True
    SECRET_KEY = "test-secret-key-not-for-production"  # noqa: S105
    SQLALCHEMY_DATABASE_URI = _env("TEST_DATABASE_URL", "sqlite://")
    WTF_CSRF_ENABLED = False
    RATELIMIT_ENABLED = False
    # Cheap argon2id so hundreds of test users hash fast (never allowed in production).
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 1024
    ARGON2_PARALLELISM = 1


class ProductionConfig(Config):
    """Production: secrets and the database only from the environment; unsafe settings refused."""

    ENV_NAME = "production"
    SECRET_KEY = _env("SECRET_KEY")
    SESSION_COOKIE_SECURE = True
    PREFERRED_URL_SCHEME = "https"

    @classmethod
    def check(cls) -> None:
        """Refuse to start with a missing secret, the embedded SQLite database or weak password hashing."""
        if not cls.SECRET_KEY or len(cls.SECRET_KEY) < 32:
            raise RuntimeError("CELLBATCH_SECRET_KEY must be set (32+ characters) in production")
        if cls.SQLALCHEMY_DATABASE_URI.startswith("sqlite"):
            raise RuntimeError("production needs PostgreSQL: set CELLBATCH_DATABASE_URL")
        problems = argon2_problems(cls.ARGON2_TIME_COST, cls.ARGON2_MEMORY_COST, cls.ARGON2_PARALLELISM)
        if problems:
            raise RuntimeError("; ".join(problems))


CONFIGS = {
    "development": DevelopmentConfig,
    "test": TestConfig,
    "production": ProductionConfig,
}
