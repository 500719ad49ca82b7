"""Site time zone display, UTC storage, and what a refused action leaves behind."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask_login import current_user

from app.audit import capture as audit
from app.audit.capture import Actor
from app.auth.models import User
from app.auth.permissions import authenticated
from app.common.errors import RuleViolation
from app.common.timeutil import format_site
from app.extensions import db as _db
from tests.auth.helpers import details, events, log_in, text


@pytest.mark.req("URS-AUD-009")
@pytest.mark.parametrize(("zone", "moment", "shown"), [
    ("Europe/Berlin", datetime(2026, 1, 15, 12, 0, tzinfo=UTC), "2026-01-15 13:00:00 CET"),
    ("Europe/Berlin", datetime(2026, 7, 15, 12, 0, tzinfo=UTC), "2026-07-15 14:00:00 CEST"),
    ("America/New_York", datetime(2026, 1, 15, 12, 0, tzinfo=UTC), "2026-01-15 07:00:00 EST"),
    ("Asia/Shanghai", datetime(2026, 1, 15, 23, 30, tzinfo=UTC), "2026-01-16 07:30:00 CST"),
])  # fmt: skip
def test_times_display_in_the_site_zone_with_its_abbreviation(app, monkeypatch, zone, moment, shown):
    monkeypatch.setitem(app.config, "SITE_TIMEZONE", zone)
    with app.app_context():
        assert format_site(moment) == shown
        assert format_site(moment, with_seconds=False) == shown[:16] + shown[19:]


@pytest.mark.req("URS-AUD-009")
def test_pages_show_stored_times_in_the_site_zone(client, db, make_user, login):
    admin = make_user("admin")
    login(admin)
    page = text(client.get(f"/admin/users/{admin.id}"))
    assert f"created {format_site(admin.created_at)}" in page
    assert admin.created_at.tzinfo is UTC


@pytest.mark.req("URS-AUD-009")
def test_naive_datetimes_are_refused(db, make_user):
    user = make_user("operator")
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        with audit.action(db, "test.lock", Actor.system("tests")):
            user.locked_until = datetime(2026, 1, 1, 12, 0)  # noqa: DTZ001 - the point of the test
    db.rollback()


@pytest.mark.req("URS-AUD-009")
def test_aware_datetimes_are_stored_as_utc(db, make_user):
    user = make_user("operator")
    berlin = datetime(2026, 7, 1, 14, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    with audit.action(db, "test.lock", Actor.system("tests")):
        user.locked_until = berlin
    db.commit()
    db.expire_all()
    stored = db.get(User, user.id).locked_until
    assert stored == berlin
    assert (stored.tzinfo, stored.hour) == (UTC, 12)


@pytest.mark.req("URS-DAT-002")
def test_rule_violation_is_a_4xx_page_and_only_the_refusal_is_kept(make_app, db, make_user):
    app = make_app()

    @app.post("/_test/refuse")
    @authenticated
    def refuse():  # type: ignore[no-untyped-def]
        user = _db.session.get(User, current_user.id)
        with audit.action(_db.session, "test.renamed", Actor.of(user), reason="part one of two"):
            user.full_name = "Renamed Before The Refusal"
        raise RuleViolation("The rule refused this.", reasons=["first reason", "second reason"])

    user = make_user("operator", full_name="Original Name")
    client = app.test_client()
    assert log_in(client, user.username).status_code == 302
    response = client.post("/_test/refuse")
    assert response.status_code == 409
    page = text(response)
    assert "The rule refused this." in page
    assert "first reason" in page and "second reason" in page
    assert db.get(User, user.id, populate_existing=True).full_name == "Original Name"
    assert events(db, "test.renamed") == []
    [refusal] = events(db, "request.refused")
    assert refusal.actor_id == user.id
    assert details(refusal) == {"endpoint": "refuse", "why": "The rule refused this."}


@pytest.mark.req("URS-ACC-002", "URS-ACC-001")
def test_a_route_without_an_access_decision_is_refused_to_everyone(make_app, db, make_user):
    app = make_app()

    @app.get("/_test/undeclared")
    def undeclared():  # type: ignore[no-untyped-def]
        return "should never be shown"

    admin = make_user("admin")
    client = app.test_client()
    assert client.get("/_test/undeclared").status_code == 403
    log_in(client, admin.username)
    response = client.get("/_test/undeclared")
    assert response.status_code == 403
    assert "should never be shown" not in text(response)
    assert [e.actor_id for e in events(db, "access.denied")] == [admin.id]
