"""Fixtures for the training tests: a loaded procedure and people by role."""

from __future__ import annotations

import pytest

from tests.mbr.helpers import SHORT, load_file

CODE = "SHORT-TEST"


@pytest.fixture
def procedure(db) -> str:  # type: ignore[no-untyped-def]
    """Load SHORT-TEST (a Draft is enough: training is by code) and return its code."""
    row, _ = load_file(db, SHORT)
    return row.code


@pytest.fixture
def people(make_user):  # type: ignore[no-untyped-def]
    return {role: make_user(role) for role in ("operator", "supervisor", "qa", "qc_analyst", "auditor")}
