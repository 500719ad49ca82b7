"""A lot's Donation Identification Number: taken once at start from the site's FIN, unique,
audited, never changed; without a FIN the lot simply has none."""

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from freezegun import freeze_time
from sqlalchemy import select

from app.audit import capture as audit
from app.audit.integrity import check_all
from app.auth import services as users
from app.auth.policy import AccountPolicy
from app.batches import services
from app.batches.models import Lot
from app.common import isbt128
from app.common.errors import RuleViolation
from app.common.timeutil import site_today
from app.extensions import db as _db
from tests.auth.helpers import events
from tests.conftest import PASSWORD, run_in_threads
from tests.lot_fixtures import SHORT, SYSTEM, make_effective

pytestmark = pytest.mark.req("URS-EXE-015")

PATTERN = "{product}-{yyyy}-{seq:04d}"


def _start(db, floor, fin="A9999", material="WCB-0042 vial 8"):
    lot = services.start_lot(db, floor.supervisor, floor.template, material, PATTERN, fin=fin)
    db.commit()
    return lot


def test_without_a_fin_a_lot_has_no_din(floor):
    assert floor.lot.isbt128_din is None


def test_with_a_fin_each_lot_gets_the_next_din_of_the_year(db, floor):
    year = site_today().year % 100
    first, second = _start(db, floor), _start(db, floor, material="WCB-0042 vial 9")
    assert first.isbt128_din == f"A9999{year:02d}000001"
    assert second.isbt128_din == f"A9999{year:02d}000002"
    assert isbt128.DIN_RE.match(first.isbt128_din) and len(first.isbt128_din) == 13
    other_fin = _start(db, floor, fin="B1234")
    assert other_fin.isbt128_din == f"B1234{year:02d}000001"  # one sequence per FIN and year


def test_the_din_year_is_the_sites_calendar_year_and_each_year_starts_again(db, floor):
    with freeze_time("2031-06-01 10:00:00"):
        assert _start(db, floor).isbt128_din == "A999931000001"
    # 23:30 UTC on 31 December is already 1 January at the site (Europe/Berlin).
    with freeze_time(datetime(2031, 12, 31, 23, 30, tzinfo=UTC)):
        assert _start(db, floor).isbt128_din == "A999932000001"


def test_the_din_is_in_the_audited_start_of_the_lot(db, floor):
    lot = _start(db, floor)
    [started] = events(db, "lot.started", entity_type="Lot", entity_id=str(lot.id))
    assert '"isbt128_din":[null,"' + lot.isbt128_din + '"]' in started.changes


def test_a_malformed_fin_starts_no_lot(db, floor):
    before = db.scalar(select(sa.func.count()).select_from(Lot))
    with pytest.raises(RuleViolation, match="CELLBATCH_ISBT128_FIN is wrong: 'A99' is not an ISBT 128"):
        services.start_lot(db, floor.supervisor, floor.template, "WCB-0042 vial 8", PATTERN, fin="A99")
    db.rollback()
    assert db.scalar(select(sa.func.count()).select_from(Lot)) == before


@pytest.mark.parametrize("with_din", [True, False])
def test_the_database_refuses_any_change_of_the_din(db, floor, with_din):
    """Even with an audit action and a reason: the DIN is printed on labels, it never changes."""
    lot = _start(db, floor) if with_din else floor.lot
    with pytest.raises(sa.exc.DBAPIError, match="isbt128_din never change"):
        with audit.action(db, "test.relabel", SYSTEM, reason="try to change the DIN"):
            lot.isbt128_din = "A999926999999"
    db.rollback()


def test_the_audit_replay_covers_the_din(db, floor):
    lot = _start(db, floor)
    assert check_all(db.connection(), _db.Model) == []
    on_table = " ON lots" if db.bind.dialect.name == "postgresql" else ""
    db.connection().exec_driver_sql(f"DROP TRIGGER IF EXISTS lots_immutable{on_table}")  # as a tamperer would
    db.connection().exec_driver_sql(f"UPDATE lots SET isbt128_din = 'A999926999999' WHERE id = {lot.id}")
    [mismatch] = check_all(db.connection(), _db.Model)
    assert (mismatch.entity_type, mismatch.entity_id, mismatch.field) == ("Lot", str(lot.id), "isbt128_din")
    assert mismatch.expected == lot.isbt128_din and mismatch.found == "A999926999999"


@pytest.mark.postgres
def test_lots_started_at_once_never_share_a_din(committing_app):
    with committing_app.app_context():
        session = _db.session
        template = make_effective(session, SHORT)
        people = [users.create_user(session, None, f"sup{i}", f"Sup {i}", ["supervisor"], PASSWORD, AccountPolicy())
                  for i in range(4)]  # fmt: skip
        session.commit()
        template_id, supervisor_ids = template.id, [p.id for p in people]

    def start(i: int) -> str:
        session = _db.session
        version = session.get(type(template), template_id)
        supervisor = session.get(type(people[0]), supervisor_ids[i])
        lot = services.start_lot(session, supervisor, version, f"WCB-1 vial {i}", PATTERN, fin="A9999")
        session.commit()
        return lot.isbt128_din

    dins = run_in_threads(committing_app, start, count=4)
    with committing_app.app_context():
        year = site_today().year % 100
    assert sorted(dins) == [f"A9999{year:02d}{n:06d}" for n in range(1, 5)]  # unique and gapless
