"""Helpers for thin views: run one service call, and turn a refusal into a message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import flash, redirect, request
from flask_wtf import FlaskForm
from werkzeug.routing import IntegerConverter, Map
from werkzeug.wrappers import Response

from app.common.db import finish_refusal
from app.common.errors import RuleViolation
from app.extensions import db

T = TypeVar("T")
#: The largest id a URL or a query argument may name: PostgreSQL's `integer`, the type of every
#: primary key. A larger number names no record; SQLite cannot even bind one beyond 2**63
#: (OverflowError, a 500), so such a URL matches no route: 404.
MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """`<int:...>` in every route: a non-negative integer no larger than MAX_ID."""

    def __init__(self, map: Map, fixed_digits: int = 0, min: int | None = None, max: int | None = MAX_ID,  # noqa: A002
                 signed: bool = False) -> None:  # fmt: skip
        super().__init__(map, fixed_digits, min, max, signed)


def bounded_int(text: str) -> int:
    """`type=` for integer query arguments (ids, page numbers): ValueError outside 0..MAX_ID, so
    `request.args.get(name, default, type=bounded_int)` falls back to the default."""
    value = int(text)
    if not 0 <= value <= MAX_ID:
        raise ValueError(f"{text!r} is out of range")
    return value


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


def submit(
    form: FlaskForm, apply: Callable[[], T], done: str, next_url: str | Callable[[T], str],
    page: Callable[[RuleViolation | None], str],
) -> Response | tuple[str, int]:  # fmt: skip
    """The POST half of a thin view: validate, call one service, then redirect with `done`.

    An invalid form or a refusal shows the page again (`page(error)`) with what was typed, so
    a reason or a comment is never lost, and answers 400 or the refusal's status. `next_url`
    may be a function of the service's result (e.g. the page of the record just created).
    """
    if not form.validate_on_submit():
        return page(None), 400
    result, error = attempt(apply)
    if error is not None:
        return page(error), error.status
    flash(done, "success")
    return redirect(next_url(result) if callable(next_url) else next_url)
