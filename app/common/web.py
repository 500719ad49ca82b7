"""Helpers for thin views: run one service call, and turn a refusal into a message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import request

from app.common.db import finish_refusal
from app.common.errors import RuleViolation
from app.extensions import db

T = TypeVar("T")


def attempt(service: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T | None, Any]:
    """Call a service; on a refusal roll back, record the refusal, and return the error."""
    try:
        return service(*args, **kwargs), None
    except RuleViolation as exc:
        db.session.rollback()
        finish_refusal(db.session, exc)
        return None, exc


def client_ip() -> str:
    return request.remote_addr or "unknown"
