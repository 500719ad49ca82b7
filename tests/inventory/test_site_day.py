"""Expiry and calibration dates are days of the site's calendar, not of UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time

from app.common.errors import RuleViolation
from app.common.timeutil import site_today, utcnow
from app.inventory import services
from tests.inventory.conftest import register, released

pytestmark = pytest.mark.req("URS-MAT-003")

ZONE = "Europe/Berlin"


def site_midnight_after(day: date) -> datetime:
    """The UTC moment the site's calendar turns from `day` to the next day."""
    return datetime.combine(day + timedelta(days=1), time(0), ZoneInfo(ZONE)).astimezone(UTC)


@pytest.fixture
def last_day(app, monkeypatch) -> date:  # type: ignore[no-untyped-def]
    """A last day of use soon (passwords and sessions stay valid), in a zone ahead of UTC."""
    monkeypatch.setitem(app.config, "SITE_TIMEZONE", ZONE)
    return utcnow().date() + timedelta(days=10)


def test_a_lot_is_usable_until_midnight_at_the_site_on_its_expiry_date(db, qa, last_day):
    released(db, qa, expiry_date=last_day)
    midnight = site_midnight_after(last_day)
    with freeze_time(midnight - timedelta(seconds=1)):
        assert services.usable_material_lot(db, "ML-0001", "SB431542", site_today())
    with freeze_time(midnight):
        assert utcnow().date() == last_day  # still the last day in UTC: the site's day decides
        with pytest.raises(RuleViolation, match=f"expired on {last_day.isoformat()}"):
            services.usable_material_lot(db, "ML-0001", "SB431542", site_today())


def test_equipment_is_usable_until_midnight_at_the_site_on_its_due_date(db, qa, last_day):
    register(db, qa, due=last_day)
    midnight = site_midnight_after(last_day)
    with freeze_time(midnight - timedelta(seconds=1)):
        assert services.usable_equipment(db, "BSC-01", "BSC", site_today())
    with freeze_time(midnight):
        with pytest.raises(RuleViolation, match=f"overdue since {last_day.isoformat()}"):
            services.usable_equipment(db, "BSC-01", "BSC", site_today())


def test_the_lists_show_expired_and_overdue_from_the_site_midnight(db, qa, login, last_day):
    released(db, qa, expiry_date=last_day)
    register(db, qa, due=last_day)
    midnight = site_midnight_after(last_day)
    with freeze_time(midnight - timedelta(seconds=1)):
        client = login(qa)
        assert 'badge-bad">expired' not in client.get("/inventory/materials").get_data(as_text=True)
        assert "calibration overdue" not in client.get("/inventory/equipment").get_data(as_text=True)
    with freeze_time(midnight):
        assert 'badge-bad">expired' in client.get("/inventory/materials").get_data(as_text=True)
        assert "calibration overdue" in client.get("/inventory/equipment").get_data(as_text=True)
