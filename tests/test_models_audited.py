"""Every table of GMP data is audited: a new model that forgets the Auditable mixin fails here."""

from __future__ import annotations

import pytest

from app.audit.capture import Auditable
from app.audit.models import AuditEvent
from app.common.sequences import NumberSequence
from app.extensions import db
from app.signatures.models import Signature

pytestmark = pytest.mark.req("URS-AUD-002", "URS-AUD-001")

#: Mapped classes that are not Auditable, each with the reason it needs no captured diff.
NOT_AUDITABLE = {
    # The audit trail itself: append-only (triggers) and hash-chained; auditing it would recurse.
    AuditEvent: "is the trail",
    # Append-only (triggers); every signature writes its own explicit `signature.<meaning>` event.
    Signature: "append-only + explicit event",
    # A counter (last lot/deviation number per year): the numbered records are Auditable and
    # their unique numbers show any gap or reuse; counting is not a GMP change of its own.
    NumberSequence: "counter behind numbered, audited records",
}


def _mapped_classes() -> list[type]:
    return sorted((m.class_ for m in db.Model.registry.mappers), key=lambda c: c.__name__)


def test_every_mapped_class_is_auditable_or_explicitly_excused(app):
    unaudited = [c.__name__ for c in _mapped_classes()
                 if not issubclass(c, Auditable) and c not in NOT_AUDITABLE]  # fmt: skip
    assert not unaudited, (
        f"models without the Auditable mixin: {unaudited}. GMP data must be audited: subclass "
        "app.audit.capture.Auditable, or add the class to NOT_AUDITABLE in "
        "tests/test_models_audited.py with the reason.")


def test_the_excused_classes_are_mapped_and_really_not_auditable(app):
    classes = _mapped_classes()
    for cls, why in NOT_AUDITABLE.items():
        assert cls in classes, f"{cls.__name__} is excused but no longer mapped; remove it"
        assert not issubclass(cls, Auditable), f"{cls.__name__} is Auditable now; remove the excuse"
        assert why


def test_the_models_known_to_be_gmp_data_are_audited(app):
    names = {c.__name__ for c in _mapped_classes() if issubclass(c, Auditable)}
    assert {"User", "PolicyAcceptance"} <= names
