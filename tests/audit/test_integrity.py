"""A direct database edit of any GMP record or signature is detected and named (11.10(a), (e))."""

import pytest
from freezegun import freeze_time

from app.audit.integrity import check_all
from app.common.timeutil import utcnow
from app.extensions import db as _db
from app.signatures.integrity import check_signatures

pytestmark = pytest.mark.req("URS-AUD-007")


@pytest.fixture
def executed(db, floor, autopilot_factory):
    with freeze_time(utcnow(), tick=True) as clock:
        autopilot_factory(floor.op1, floor.op2, clock.move_to).run(floor.lot)
    return floor


def _raw(db, sql: str) -> None:
    db.connection().exec_driver_sql(sql)


def test_untouched_records_match_their_audit_trail(db, executed):
    assert check_all(db.connection(), _db.Model) == []
    assert check_signatures(db.connection()) == []


def test_an_entry_edited_in_the_database_is_named(db, executed):
    entry = executed.step("UP2.OP1.S1").current_entries[-1]
    _raw(db, f"UPDATE entries SET value_text = '99.9' WHERE id = {entry.id}")
    [mismatch] = check_all(db.connection(), _db.Model)
    assert (mismatch.entity_type, mismatch.entity_id, mismatch.field) == ("Entry", str(entry.id), "value_text")
    assert mismatch.found == "99.9" and mismatch.expected == entry.value_text


def test_a_row_inserted_around_the_application_is_named(db, executed):
    step = executed.step("UP2.OP1.S2")
    _raw(db, "INSERT INTO entries (lot_id, step_record_id, input_name, value_text, limit_status, entered_by_id, "
             f"entered_at) VALUES ({step.lot_id}, {step.id}, 'sample_id', 'FORGED', 'within', {executed.op1.id}, "
             "'2026-01-01 00:00:00')")
    [mismatch] = check_all(db.connection(), _db.Model)
    assert mismatch.entity_type == "Entry" and mismatch.found == "present without audit event"


@pytest.mark.req("URS-SIG-006")
def test_a_signature_edited_in_the_database_is_named(db, executed):
    sid = db.connection().exec_driver_sql("SELECT min(id) FROM signatures").scalar()
    on_table = " ON signatures" if db.bind.dialect.name == "postgresql" else ""
    for trigger in ("signatures_no_update", "signatures_append_only"):
        _raw(db, f"DROP TRIGGER IF EXISTS {trigger}{on_table}")
    _raw(db, f"UPDATE signatures SET signer_id = {executed.op2.id} WHERE id = {sid}")
    mismatches = check_signatures(db.connection())
    assert [(m.entity_id, m.field) for m in mismatches] == [(str(sid), "signer_id")]
