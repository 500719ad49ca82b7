"""Fixtures for access-control tests: a second app built from a config subclass."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from app import create_app
from app.extensions import db as _db
from app.extensions import limiter
from config import TestConfig
from tests.conftest import IsolatedClient


@pytest.fixture
def make_app(database_url: str, db) -> Iterator[Callable[..., Flask]]:  # type: ignore[no-untyped-def]
    """Build an app with some settings changed (CSRF on, rate limit on ...).

    Its requests use the test's rolled-back transaction (the `db` fixture replaced the
    session for every app). The limiter is one shared instance whose `enabled` flag the
    last `init_app` sets, so it is restored afterwards: the suite app stays unlimited.
    """
    saved = limiter.enabled
    built: list[Flask] = []

    def build(**settings: Any) -> Flask:
        config = type("VariantConfig", (TestConfig,), {"SQLALCHEMY_DATABASE_URI": database_url, **settings})
        application = create_app(config)
        application.test_client_class = IsolatedClient
        built.append(application)
        return application

    yield build
    limiter.enabled = saved
    for application in built:
        with application.app_context():
            _db.engine.dispose()
