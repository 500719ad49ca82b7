"""Release fixtures: the QC `lab` plus a lot that is ready for QA's review and release."""

from __future__ import annotations

import pytest

from app.release import services as release
from tests.qc.conftest import Lab, build_lab, creds


@pytest.fixture(autouse=True)
def no_disposition_hooks(monkeypatch):  # type: ignore[no-untyped-def]
    """Release tests test the decision; the documents rendered at it are tested in tests/documents."""
    monkeypatch.setattr(release, "DISPOSITION_HOOKS", [])


@pytest.fixture
def lab(db, make_user) -> Lab:  # type: ignore[no-untyped-def]
    return build_lab(db, make_user)


@pytest.fixture
def ready(lab: Lab):  # type: ignore[no-untyped-def]
    """An executed lot, every step signed, every required QC result conforming and reviewed,
    taken into review by QA (the review itself is not signed yet)."""
    lot = lab.lot()
    lab.pass_qc(lot)
    release.start_review(lab.db, lab.qa1, lot)
    lab.db.commit()
    return lot


def sign_review(lab: Lab, lot, qa=None):  # type: ignore[no-untyped-def]
    review = release.sign_review(lab.db, qa or lab.qa1, lot, creds(qa or lab.qa1))
    lab.db.commit()
    return review
