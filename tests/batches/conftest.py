"""Batch tests use the shared lot fixtures (tests/lot_fixtures.py); helpers re-exported for imports."""

from tests.lot_fixtures import ROOT, SHORT, SYSTEM, add_stock, creds, make_effective, train  # noqa: F401
