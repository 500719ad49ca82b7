"""Domain errors: a refusal with a message a user can act on."""

from collections.abc import Callable
from typing import Any


class RuleViolation(Exception):
    """A GMP or business rule refused the action; nothing it started is kept.

    `reasons` lists every reason when a check collects several (e.g. release refusals);
    `status` is the HTTP status the one error handler answers with.
    """

    status = 409

    def __init__(
        self,
        message: str,
        reasons: list[str] | None = None,
        status: int | None = None,
        after_rollback: Callable[[Any], None] | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.reasons = list(reasons or [])
        if status is not None:
            self.status = status
        #: Work that must survive the rollback of the refused action, in its own transaction:
        #: the audit event of the refusal, a failed password counted toward lockout.
        self.after_rollback: list[Callable[[Any], None]] = (
            [after_rollback] if after_rollback else []
        )


class NotPermitted(RuleViolation):
    """The acting user's roles do not allow this action (21 CFR 11.10(g))."""

    status = 403


class NotFound(RuleViolation):
    """The record does not exist (or is not visible to the user)."""

    status = 404


class ConcurrentChange(RuleViolation):
    """Someone else saved the same record first; nothing of this request was saved."""

    status = 409
