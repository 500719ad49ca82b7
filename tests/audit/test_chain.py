"""The hash chain and the append-only tables: edits outside the app are refused or named (11.10(a))."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.audit import capture as audit
from app.audit.capture import Actor
from app.audit.chain import GENESIS_HASH, event_hash, verify_chain
from app.signatures.models import Signature
from tests.auth.helpers import events


def _seed(db, count=5):  # type: ignore[no-untyped-def]
    ids = [audit.record(db, "test.event", Actor.system("tests"), entity_ref=("Thing", str(n)), n=n)
           for n in range(count)]  # fmt: skip
    db.commit()
    return ids


def _signature(db, make_user):  # type: ignore[no-untyped-def]
    user = make_user("operator")
    signature = Signature(signer_id=user.id, signer_name=user.full_name, signer_username=user.username,
                          meaning="performed", entity_type="Thing", entity_id="1", content_hash="0" * 64,
                          policy_version="1")  # fmt: skip
    db.add(signature)
    db.commit()
    return signature


@pytest.mark.req("URS-AUD-005")
def test_events_are_linked_and_numbered_without_gaps(db, make_user):
    make_user("operator")
    _seed(db)
    trail = events(db)
    assert [e.id for e in trail] == list(range(1, len(trail) + 1))
    assert trail[0].prev_hash == GENESIS_HASH
    for previous, event in zip(trail, trail[1:], strict=False):
        assert event.prev_hash == previous.hash
    for event in trail:
        row = {c.key: getattr(event, c.key) for c in sa.inspect(event).mapper.column_attrs}
        assert event_hash(event.prev_hash, row) == event.hash
    report = verify_chain(db.connection())
    assert (report.ok, report.count, report.head_hash) == (True, len(trail), trail[-1].hash)


@pytest.mark.req("URS-AUD-004", "URS-DAT-001")
@pytest.mark.parametrize("sql", [
    "UPDATE audit_events SET reason = 'edited' WHERE id = 2",
    "DELETE FROM audit_events WHERE id = 2",
    "UPDATE audit_events SET id = id + 100",
])  # fmt: skip
def test_the_database_refuses_to_change_audit_events(db, sql):
    _seed(db)
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        with db.begin_nested():
            db.connection().exec_driver_sql(sql)
    assert [e.reason for e in events(db)] == [None] * 5
    assert verify_chain(db.connection()).ok


@pytest.mark.req("URS-AUD-004", "URS-SIG-006")
@pytest.mark.parametrize("sql", [
    "UPDATE signatures SET signer_name = 'Somebody Else'",
    "UPDATE signatures SET content_hash = '{}'".format("1" * 64),
    "DELETE FROM signatures",
])  # fmt: skip
def test_the_database_refuses_to_change_signatures(db, make_user, sql):
    signature = _signature(db, make_user)
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        with db.begin_nested():
            db.connection().exec_driver_sql(sql)
    db.expire_all()
    assert db.get(Signature, signature.id).content_hash == "0" * 64


def _drop_update_trigger(db) -> None:  # type: ignore[no-untyped-def]
    connection = db.connection()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("DROP TRIGGER audit_events_append_only ON audit_events")
    else:
        connection.exec_driver_sql("DROP TRIGGER audit_events_no_update")


@pytest.mark.req("URS-AUD-006")
def test_an_edit_with_the_trigger_dropped_is_named_by_verify(db):
    ids = _seed(db, 6)
    _drop_update_trigger(db)  # DDL is transactional on both engines: rolled back after the test
    db.connection().exec_driver_sql(f"UPDATE audit_events SET reason = 'backdated' WHERE id = {ids[3]}")
    report = verify_chain(db.connection())
    assert (report.ok, report.broken_id, report.count) == (False, ids[3], 3)
    assert report.problem == "content does not match its hash"


@pytest.mark.req("URS-AUD-006")
def test_a_recomputed_hash_breaks_the_next_link(db):
    ids = _seed(db, 4)
    _drop_update_trigger(db)
    forged = event_hash(GENESIS_HASH, {"id": 1, "occurred_at": events(db)[0].occurred_at, "actor_id": None,
                                       "actor_name": "forger", "action": "test.event", "entity_type": None,
                                       "entity_id": None, "lot_id": None, "changes": "{}", "reason": None,
                                       "details": "{}"})  # fmt: skip
    db.connection().exec_driver_sql(
        f"UPDATE audit_events SET actor_name = 'forger', entity_type = NULL, entity_id = NULL, "
        f"details = '{{}}', hash = '{forged}' WHERE id = {ids[0]}")  # fmt: skip
    report = verify_chain(db.connection())
    assert (report.broken_id, report.problem) == (ids[1], "link to previous event broken")


@pytest.mark.req("URS-AUD-006")
def test_a_missing_event_is_named(db):
    ids = _seed(db, 4)
    connection = db.connection()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("DROP TRIGGER audit_events_append_only ON audit_events")
    else:
        connection.exec_driver_sql("DROP TRIGGER audit_events_no_delete")
    connection.exec_driver_sql(f"DELETE FROM audit_events WHERE id = {ids[2]}")
    report = verify_chain(connection)
    assert (report.broken_id, report.problem) == (ids[2], f"event {ids[2]} is missing")
