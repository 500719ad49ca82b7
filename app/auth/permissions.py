"""Every route declares who may use it; one check before each request enforces it (11.10(g)).

A view without a declaration is refused for everyone, and the route-by-role test fails, so a
new route cannot ship without a decision.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.auth.roles import ROLE_LABELS
from app.common.errors import NotPermitted

PUBLIC = "public"
AUTHENTICATED = "authenticated"
_ATTR = "cellbatch_access"


def _mark(access: Any) -> Callable:
    def decorate(view: Callable) -> Callable:
        setattr(view, _ATTR, access)
        return view

    return decorate


def public(view: Callable) -> Callable:
    """Anyone, logged in or not (login page, document verification)."""
    return _mark(PUBLIC)(view)


def authenticated(view: Callable) -> Callable:
    """Any logged-in user, whatever the role."""
    return _mark(AUTHENTICATED)(view)


def roles(*allowed: str) -> Callable:
    """Only users holding one of these roles."""
    return _mark(frozenset(allowed))


def access_of(view: Callable | None) -> Any:
    """The declared access of a view function (None: undeclared, so refused)."""
    return getattr(view, _ATTR, None)


def allows(access: Any, user: Any) -> bool:
    """Whether a user (or anonymous) passes a declared access."""
    if access == PUBLIC:
        return True
    if not getattr(user, "is_authenticated", False):
        return False
    if access == AUTHENTICATED:
        return True
    return isinstance(access, frozenset) and bool(user.role_set & access)


def can(user: Any, *role_names: str) -> bool:
    """Named permission check for templates and services alike."""
    return getattr(user, "is_authenticated", False) and user.has_role(*role_names)


def require_roles(user: Any, allowed: tuple[str, ...] | frozenset[str], doing: str) -> None:
    """Services check roles too (not only routes), so CLI and engine callers obey the same rule."""
    if not can(user, *allowed) or not getattr(user, "active", False):
        names = " or ".join(ROLE_LABELS.get(r, r) for r in sorted(allowed))
        raise NotPermitted(f"Only an active {names} user may {doing}.")
