"""The site's access-control settings (config.py, CELLBATCH_* variables)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app


@dataclass(frozen=True)
class AccountPolicy:
    """Password, ageing and lockout rules (21 CFR 11.300)."""

    min_length: int = 12
    max_age_days: int = 180
    lockout_threshold: int = 5
    lockout_minutes: int = 30
    #: How long a password proved in a login session is remembered for its later signatures
    #: after its last use (app/auth/password_memory.py): the idle timeout; 0 when switched off.
    password_memory_minutes: int = 0

    @classmethod
    def current(cls) -> AccountPolicy:
        """The policy configured for the running app."""
        config = current_app.config
        return cls(
            config["PASSWORD_MIN_LENGTH"], config["PASSWORD_MAX_AGE_DAYS"],
            config["LOCKOUT_THRESHOLD"], config["LOCKOUT_MINUTES"],
            config["IDLE_TIMEOUT_MINUTES"] if config["SIGNING_PASSWORD_MEMORY"] else 0,
        )  # fmt: skip
