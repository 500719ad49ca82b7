"""Small helpers shared by the access-control, audit and signature tests."""

from __future__ import annotations

import json
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from app.audit.models import AuditEvent
from tests.conftest import PASSWORD


def log_in(client: FlaskClient, username: str, password: str = PASSWORD, **kwargs: Any) -> TestResponse:
    """POST the login form; the caller asserts the outcome."""
    return client.post("/login", data={"username": username, "password": password}, **kwargs)


def events(session: Session, action: str | None = None, **where: Any) -> list[AuditEvent]:
    """Audit events in chain order, optionally of one action and with equal columns."""
    query = select(AuditEvent).order_by(AuditEvent.id)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    for column, value in where.items():
        query = query.where(getattr(AuditEvent, column) == value)
    return list(session.scalars(query))


def changes(event: AuditEvent) -> dict[str, list[Any]]:
    return json.loads(event.changes)


def details(event: AuditEvent) -> dict[str, Any]:
    return json.loads(event.details)


def is_login_redirect(response: TestResponse) -> bool:
    """The redirect a refused anonymous (or expired) request gets: to /login, with next=."""
    location = response.headers.get("Location", "")
    return response.status_code == 302 and location.startswith("/login?next=")


def text(response: TestResponse) -> str:
    return response.get_data(as_text=True)
