"""argon2id password hashes and the site's password policy."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
_dummy_hash: str | None = None


def configure(time_cost: int | None, memory_cost: int | None) -> None:
    """Tune argon2id cost (tests use a cheap setting; production keeps the defaults)."""
    global _hasher, _dummy_hash
    if time_cost and memory_cost:
        _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=1)
        _dummy_hash = None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True only for the right password; never raises for a wrong one."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def verify_nothing(password: str) -> None:
    """Spend one verification's time where there is no hash to check (unknown, inactive or
    locked account), so the time a failed login takes does not tell which usernames exist."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash(secrets.token_hex(16))
    verify_password(_dummy_hash, password)


def policy_problems(password: str, username: str, min_length: int) -> list[str]:
    """Why a new password is not acceptable (empty when it is)."""
    problems = []
    if len(password) < min_length:
        problems.append(f"The password must have at least {min_length} characters.")
    if username and username.lower() in password.lower():
        problems.append("The password must not contain the username.")
    if password.strip() != password:
        problems.append("The password must not start or end with a space.")
    return problems
