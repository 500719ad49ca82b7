"""Small input checks every service shares, so refusals read the same everywhere."""

from __future__ import annotations

from app.common.errors import RuleViolation


def require_text(value: str | None, message: str) -> str:
    """The stripped text, or a 400 refusal with `message` when it is blank."""
    text = (value or "").strip()
    if not text:
        raise RuleViolation(message, status=400)
    return text


def require_reason(reason: str | None, doing: str) -> str:
    """A reason is part of the record of the change (Annex 11 §9), so it is asked for up front."""
    return require_text(reason, f"A reason is required to {doing}.")
