"""Account rules: login with lockout, password changes, and the admin's user management."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit import capture as audit
from app.audit.capture import Actor
from app.audit.models import AuditEvent
from app.auth import password_memory
from app.auth import roles as R
from app.auth.models import User, new_session_token
from app.auth.passwords import (
    hash_password,
    needs_rehash,
    parameters_of,
    policy_problems,
    verify_nothing,
    verify_password,
)
from app.auth.policy import AccountPolicy
from app.common.errors import NotFound, NotPermitted, RuleViolation
from app.common.timeutil import utcnow

#: One message for an unknown user, a wrong password, a locked or a deactivated account,
#: so the login page never tells an attacker which usernames exist.
LOGIN_FAILED = (
    "Login failed: the username or password is wrong, or the account is locked or "
    "deactivated. Repeated failures lock the account."
)
ANONYMOUS = Actor(None, "anonymous")


def find_user(session: Session, username: str) -> User | None:
    """The account with this username (case-insensitive), if any."""
    name = (username or "").strip().lower()
    return session.scalar(select(User).where(User.username == name)) if name else None


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def login(session: Session, username: str, password: str, ip: str, policy: AccountPolicy) -> User:
    """Authenticate; a failure is refused with one message and counted toward lockout."""
    user = find_user(session, username)
    now = utcnow()
    if user is None or not user.active or user.is_locked(now):
        verify_nothing(password)  # as slow as a wrong password: no user enumeration by timing
        why = "unknown user" if user is None else "inactive" if not user.active else "locked"
        raise _login_refused(user, username, ip, why, policy)
    if not verify_password(user.password_hash, password):
        raise _login_refused(user, username, ip, "wrong password", policy)
    with audit.action(session, "auth.login", Actor.of(user), ip=ip):
        if user.locked_until is not None:
            audit.record(session, "auth.lock_expired", Actor.of(user), entity=user)
            user.locked_until = None
        user.failed_attempts = 0
        user.last_login_at = now
        expired = timedelta(days=policy.max_age_days) < now - user.password_changed_at
        if policy.max_age_days and expired:
            user.must_change_password = True
        audit.record(session, "auth.login", Actor.of(user), entity=user, ip=ip)
    if needs_rehash(user.password_hash):
        _rehash(session, user, password)
    password_memory.remember(user, password, policy)
    return user


def _rehash(session: Session, user: User, password: str) -> None:
    """Hash the password just verified again, with the site's current argon2id parameters. The
    password is the same, so its age, the session token and other open sessions stay; the trail
    shows that the hash changed (never the hash itself) and both parameter sets."""
    before = parameters_of(user.password_hash)
    new_hash = hash_password(password)
    with audit.action(session, "auth.password_rehashed", Actor.of(user), before=before,
                      after=parameters_of(new_hash)):  # fmt: skip
        user.password_hash = new_hash


def _login_refused(
    user: User | None, username: str, ip: str, why: str, policy: AccountPolicy
) -> RuleViolation:
    user_id = user.id if user else None

    def record_failure(session: Session) -> None:
        target = session.get(User, user_id) if user_id else None
        if target is None:
            given = (username or "")[:64]
            audit.record(session, "auth.login_failed", ANONYMOUS, ip=ip, username=given, why=why)
            return
        count_failed_password(session, target, ip, why, policy)

    return RuleViolation(LOGIN_FAILED, status=401, after_rollback=record_failure)


def count_failed_password(
    session: Session, user: User, ip: str, why: str, policy: AccountPolicy
) -> None:
    """Count a wrong password (login or signature); lock the account at the threshold."""
    actor = Actor.of(user)
    with audit.action(session, "auth.login_failed", actor, ip=ip):
        audit.record(session, "auth.login_failed", actor, entity=user, ip=ip, why=why)
        if why != "wrong password":
            return
        user.failed_attempts += 1
        if user.failed_attempts >= policy.lockout_threshold:
            user.failed_attempts = 0
            # One event: the locked_until diff with the lockout's details (an extra explicit
            # event made every lockout appear twice in the trail and in the QA alert).
            with audit.action(session, "auth.locked", actor, ip=ip, minutes=policy.lockout_minutes,
                              threshold=policy.lockout_threshold):  # fmt: skip
                user.locked_until = utcnow() + timedelta(minutes=policy.lockout_minutes)


def _check_new_password(user: User, new: str, confirm: str, policy: AccountPolicy) -> None:
    problems = policy_problems(new, user.username, policy.min_length)
    if new != confirm:
        problems.append("The two new passwords differ.")
    if verify_password(user.password_hash, new):
        problems.append("The new password must differ from the current one.")
    if problems:
        raise RuleViolation("The new password was not accepted.", reasons=problems, status=400)


def change_password(
    session: Session, user: User, current: str, new: str, confirm: str, ip: str,
    policy: AccountPolicy,
) -> None:  # fmt: skip
    """Change one's own password (also the forced change after a reset)."""
    if not verify_password(user.password_hash, current):
        user_id = user.id
        raise RuleViolation(
            "The current password is wrong.", status=400,
            after_rollback=lambda s: count_failed_password(
                s, s.get(User, user_id), ip, "wrong password", policy),
        )  # fmt: skip
    _check_new_password(user, new, confirm, policy)
    with audit.action(session, "auth.password_changed", Actor.of(user)):
        user.password_hash = hash_password(new)
        user.password_changed_at = utcnow()
        user.must_change_password = False
        user.session_token = new_session_token()


def logout(session: Session, user: User) -> None:
    """End the session for good: a new session token makes any copy of the cookie (a shared
    workstation, a stolen cookie) useless. It also ends the user's other open sessions."""
    with audit.action(session, "auth.logout", Actor.of(user)):
        user.session_token = new_session_token()


def _normalized_roles(roles: list[str] | set[str]) -> str:
    role_set = {r.strip() for r in roles if r.strip()}
    problems = R.role_problems(role_set)
    if problems:
        raise RuleViolation("The roles are not valid.", reasons=problems, status=400)
    return ",".join(sorted(role_set))


def _admin_actor(admin: User | None) -> Actor:
    """The acting administrator; None is the server console (`flask users ...`, first setup)."""
    if admin is None:
        return Actor.system("flask users (server console)")
    if not admin.has_role(R.ADMIN):
        raise NotPermitted("Only an administrator manages user accounts.")
    return Actor.of(admin)


def create_user(
    session: Session, admin: User | None, username: str, full_name: str, roles: list[str],
    initial_password: str, policy: AccountPolicy,
) -> User:  # fmt: skip
    """Create an account with an initial password that must be changed at first login."""
    actor = _admin_actor(admin)
    name = (username or "").strip().lower()
    if not name or not name.replace(".", "").replace("_", "").replace("-", "").isalnum():
        raise RuleViolation("Usernames use letters, digits, '.', '_' or '-'.", status=400)
    if session.scalar(select(func.count()).where(User.username == name)):
        raise RuleViolation(f"The username {name!r} exists or existed; it is never reused.")
    if not (full_name or "").strip():
        raise RuleViolation("The full name is required: it is printed with signatures.",
                            status=400)  # fmt: skip
    problems = policy_problems(initial_password, name, policy.min_length)
    if problems:
        raise RuleViolation("The initial password was not accepted.", reasons=problems, status=400)
    user = User(
        username=name, full_name=full_name.strip(), roles=_normalized_roles(roles),
        password_hash=hash_password(initial_password), must_change_password=True,
    )  # fmt: skip
    with audit.action(session, "user.created", actor):
        session.add(user)
    return user


def set_roles(session: Session, admin: User | None, user: User, roles: list[str], reason: str) -> None:
    """Change a user's roles (the old and new roles and the reason are in the trail)."""
    actor = _admin_actor(admin)
    with audit.action(session, "user.roles_changed", actor, reason=reason):
        user.roles = _normalized_roles(roles)
        user.session_token = new_session_token()


def reset_password(
    session: Session, admin: User | None, user: User, temporary: str, reason: str, policy: AccountPolicy
) -> None:
    """Set a temporary password; the user must change it, so the admin can never use it."""
    actor = _admin_actor(admin)
    problems = policy_problems(temporary, user.username, policy.min_length)
    if problems:
        raise RuleViolation("The temporary password was not accepted.", reasons=problems,
                            status=400)  # fmt: skip
    with audit.action(session, "user.password_reset", actor, reason=reason):
        user.password_hash = hash_password(temporary)
        user.password_changed_at = utcnow()
        user.must_change_password = True
        user.session_token = new_session_token()


def set_active(session: Session, admin: User | None, user: User, active: bool, reason: str) -> None:
    """Deactivate (at once: open sessions end) or reactivate an account; never delete it."""
    actor = _admin_actor(admin)
    if admin is not None and user.id == admin.id:
        raise RuleViolation("Administrators cannot deactivate their own account.")
    name = "user.reactivated" if active else "user.deactivated"
    with audit.action(session, name, actor, reason=reason):
        user.active = active
        user.session_token = new_session_token()


def unlock(session: Session, admin: User | None, user: User, reason: str) -> None:
    """Lift a lockout before it expires."""
    actor = _admin_actor(admin)
    with audit.action(session, "auth.unlocked", actor, reason=reason):
        user.locked_until = None
        user.failed_attempts = 0
        audit.record(session, "auth.unlocked", actor, entity=user, reason=reason)


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def recent_lockouts(session: Session, since_days: int = 7) -> list:
    """Lockouts of the last days, for the QA security alert (11.300(d))."""
    since = utcnow() - timedelta(days=since_days)
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "auth.locked", AuditEvent.occurred_at >= since)
            .order_by(AuditEvent.id.desc())
        )
    )
