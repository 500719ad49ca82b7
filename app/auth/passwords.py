"""argon2id password hashes and the site's password policy."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# Replaced by configure() with the site's parameters (config.py: ARGON2_*) when the app is built.
_hasher = PasswordHasher()
_dummy_hash: str | None = None


def configure(time_cost: int | None, memory_cost: int | None, parallelism: int = 1) -> None:
    """Hash new passwords with these argon2id parameters; a hash keeps the parameters it was made with."""
    global _hasher, _dummy_hash
    if time_cost is None or memory_cost is None:
        return  # a config without ARGON2_* settings keeps the library's defaults
    if time_cost < 1 or parallelism < 1 or memory_cost < 8 * parallelism:
        raise ValueError(f"invalid argon2id parameters: time cost {time_cost}, memory {memory_cost} KiB, "
                         f"parallelism {parallelism} (at least 1, 8 KiB per lane and 1)")  # fmt: skip
    _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)
    _dummy_hash = None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True only for the right password; never raises for a wrong one."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether a (verified) hash was made with other parameters than the site's current ones."""
    return _hasher.check_needs_rehash(password_hash)


def parameters_of(password_hash: str) -> str:
    """The argon2 parameters a hash was made with (not secret: they are part of the hash), e.g. for the trail."""
    p = extract_parameters(password_hash)
    return f"argon2{p.type.name.lower()} t={p.time_cost} m={p.memory_cost} KiB p={p.parallelism}"


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
