"""The password a user proved in this login session, kept only as a keyed digest in this process's
memory, so the password re-entered at each later signature (21 CFR 11.200(a)(1)(ii)) is checked
in microseconds instead of by one more argon2id computation. That computation costs 15-36 ms of a
core; on a 2-core server it queued every signature behind the others (benchmarks/, issue #10).

Why this keeps the password as safe: argon2id's cost protects the *stored* hashes against offline
guessing after a database or backup leak. Nothing here is ever stored: the digest's key is random
per process and dies with it, so a leak of the database, a backup or the configuration reveals
nothing new. A dump of a running worker's memory already holds every password typed into it.
Online guessing stays bounded by the lockout: a mismatch here is a wrong password (same account,
same stored hash, same session) and is counted as one by the caller.

Entries are keyed by user, session token and stored hash. Logout, a password change or reset, a
role change and deactivation rotate the token (a change also the hash), so an old session's entry
is never consulted again. An entry ends after the idle timeout since its last use (the session
itself would have expired), and the number of entries is bounded. A site that wants argon2id on
every signature switches this off (CELLBATCH_SIGNING_PASSWORD_MEMORY=0).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict
from datetime import datetime, timedelta

from app.auth.models import User
from app.auth.passwords import verify_password
from app.auth.policy import AccountPolicy
from app.common.timeutil import utcnow

#: Bound on remembered sessions per process; the least recently used is forgotten first (it then
#: costs one argon2id check again, nothing else).
CAPACITY = 4096

_KEY = secrets.token_bytes(32)
_entries: OrderedDict[tuple[int, str, str], tuple[bytes, datetime]] = OrderedDict()
_lock = threading.Lock()


def _digest(password: str) -> bytes:
    return hmac.new(_KEY, password.encode(), hashlib.sha256).digest()


def _key(user: User) -> tuple[int, str, str]:
    return user.id, user.session_token, user.password_hash


def _keep(key: tuple[int, str, str], digest: bytes, policy: AccountPolicy) -> None:
    """Store or renew an entry for the idle timeout from now, most recently used last (under _lock)."""
    _entries[key] = (digest, utcnow() + timedelta(minutes=policy.password_memory_minutes))
    _entries.move_to_end(key)
    while len(_entries) > CAPACITY:
        _entries.popitem(last=False)


def remember(user: User, password: str, policy: AccountPolicy) -> None:
    """Remember a password just verified with argon2id for the rest of this login session."""
    if not policy.password_memory_minutes:
        return
    with _lock:
        _keep(_key(user), _digest(password), policy)


def _recall(user: User, password: str, policy: AccountPolicy) -> bool | None:
    """True or False when this session's password is remembered (the entry's life is renewed by a
    match), None when it is not (first signature in this process, expired, or switched off)."""
    if not policy.password_memory_minutes:
        return None
    key = _key(user)
    with _lock:
        entry = _entries.get(key)
        if entry is None or entry[1] <= utcnow():
            _entries.pop(key, None)
            return None
        if not hmac.compare_digest(entry[0], _digest(password)):
            return False
        _keep(key, entry[0], policy)
        return True


def check_signing_password(user: User, password: str, policy: AccountPolicy) -> bool:
    """Whether the password re-entered for a signature is the signer's: from this session's memory
    when it holds it, else by argon2id (and then remembered)."""
    recalled = _recall(user, password, policy)
    if recalled is not None:
        return recalled
    if not verify_password(user.password_hash, password):
        return False
    remember(user, password, policy)
    return True
