"""A signature is bound to the signed content: edits invalidate it, it cannot move (11.70, 11.50)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import render_template_string
from freezegun import freeze_time

from app.audit import capture as audit
from app.audit.capture import Actor
from app.common.db import unit_of_work
from app.signatures.services import Credentials, entity_hash, sign, signatures_of
from tests.auth.helpers import events
from tests.conftest import PASSWORD

MANIFEST = '{% from "macros.html" import signature %}{% for v in views %}{{ signature(v) }}{% endfor %}'


def _sign(db, user, note, meaning="performed"):  # type: ignore[no-untyped-def]
    with unit_of_work(db):
        return sign(db, user, note, meaning, Credentials(PASSWORD, user.username, accept_policy=True))


def _edit(db, user, note, text, reason="Transcription error"):  # type: ignore[no-untyped-def]
    with unit_of_work(db), audit.action(db, "note.edited", Actor.of(user), reason=reason):
        note.text = text
    return events(db, "note.edited")[-1]


@pytest.mark.req("URS-SIG-006")
def test_an_edit_after_signing_invalidates_the_signature_and_names_the_change(db, make_user, make_note):
    with freeze_time("2026-01-15 12:00:00"):  # one instant: order comes from the trail, not the clock
        user = make_user("operator")
        note = make_note("Viability 92.1 %")
        first = _sign(db, user, note)
        [view] = signatures_of(db, note)
        assert (view.signature.id, view.valid, view.invalidated_by) == (first.id, True, None)
        edit = _edit(db, user, note, "Viability 91.2 %")
        [view] = signatures_of(db, note)
        assert view.valid is False
        assert view.invalidated_by.id == edit.id
        second = _sign(db, user, note)
        old, new = signatures_of(db, note)
        assert (old.signature.id, old.valid, old.invalidated_by.id) == (first.id, False, edit.id)
        assert (new.signature.id, new.valid) == (second.id, True)


@pytest.mark.req("URS-SIG-006")
def test_an_edit_and_a_change_back_leaves_the_signature_valid(db, make_user, make_note):
    user = make_user("operator")
    note = make_note("Viability 92.1 %")
    _sign(db, user, note)
    _edit(db, user, note, "Viability 91.2 %")
    _edit(db, user, note, "Viability 92.1 %", reason="Reverted")
    [view] = signatures_of(db, note)
    assert view.valid is True  # validity is the content hash, derived, never a stored flag


@pytest.mark.req("URS-SIG-006")
def test_a_signature_cannot_be_moved_to_another_record(db, make_user, make_note):
    user = make_user("operator")
    note = make_note("Same words", lot_id=1)
    twin = make_note("Same words", lot_id=1)
    assert note.signed_content() == twin.signed_content()
    assert entity_hash(note) != entity_hash(twin)
    signature = _sign(db, user, note)
    assert signatures_of(db, twin) == []
    assert signature.content_hash != entity_hash(twin)


@pytest.mark.req("URS-SIG-005", "URS-AUD-009")
def test_the_manifestation_shows_name_meaning_time_zone_and_validity(app, db, make_user, make_note):
    with freeze_time("2026-01-15 12:00:00") as clock:
        user = make_user("operator", full_name="Olivia Okafor")
        note = make_note()
        _sign(db, user, note)
        with app.test_request_context():
            html = render_template_string(MANIFEST, views=signatures_of(db, note))
        assert "Performed" in html
        assert f"<strong>Olivia Okafor</strong> ({user.username})" in html
        assert "2026-01-15 13:00:00 CET" in html
        assert ">valid<" in html and "invalidated" not in html
        clock.tick(timedelta(hours=2))
        _edit(db, user, note, "Seeded 2.1e6 cells", reason="Recount")
        with app.test_request_context():
            html = render_template_string(MANIFEST, views=signatures_of(db, note))
        assert ">invalidated<" in html
        assert "by note.edited on 2026-01-15 15:00:00 CET" in html
        assert "Recount" in html
