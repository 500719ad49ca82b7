"""Training records: who records them, validity by site day, revocation, the check before a step."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time

from app.common.errors import NotPermitted, RuleViolation
from app.common.timeutil import site_today, utcnow
from app.training import services
from tests.auth.helpers import changes, events


def record(db, recorder, user, code, trained_on=None, expires_on=None):  # type: ignore[no-untyped-def]
    trained_on = trained_on or site_today() - timedelta(days=30)
    expires_on = expires_on or trained_on + timedelta(days=365)
    result = services.record_training(db, recorder, user, code, trained_on, expires_on)
    db.commit()
    return result


@pytest.mark.req("URS-TRN-001")
def test_a_supervisor_records_training_and_it_is_audited(db, people, procedure):
    op, sup = people["operator"], people["supervisor"]
    entry = record(db, sup, op, procedure)
    [event] = events(db, "training.recorded")
    assert event.actor_id == sup.id and changes(event)["template_code"] == [None, procedure]
    assert services.current_training(db, op, procedure, site_today()) == entry
    assert services.require_training(db, op, procedure, site_today()) == entry


@pytest.mark.req("URS-TRN-001", "URS-ACC-002")
@pytest.mark.parametrize("role", ["operator", "qc_analyst", "auditor"])
def test_only_supervisors_and_qa_record_training(db, people, procedure, role):
    with pytest.raises(NotPermitted):
        record(db, people[role], people["supervisor"], procedure)


@pytest.mark.req("URS-TRN-001")
def test_nobody_records_their_own_training(db, people, procedure):
    with pytest.raises(RuleViolation, match="own training"):
        record(db, people["qa"], people["qa"], procedure)


@pytest.mark.req("URS-TRN-002")
@pytest.mark.parametrize(("trained", "expires", "message"), [
    (date(2026, 1, 1), date(2026, 1, 1), "expire after"),
    (date(2026, 1, 2), date(2026, 1, 1), "expire after"),
])  # fmt: skip
def test_the_training_expires_after_it_was_given(db, people, procedure, trained, expires, message):
    with pytest.raises(RuleViolation, match=message):
        record(db, people["qa"], people["operator"], procedure, trained, expires)


@pytest.mark.req("URS-TRN-001", "URS-EXE-008")
def test_auditors_are_not_trained_to_execute(db, people, procedure):
    with pytest.raises(RuleViolation, match="never executes steps"):
        record(db, people["qa"], people["auditor"], procedure)


@pytest.mark.req("URS-TRN-001")
def test_training_is_not_recorded_in_advance_or_on_unknown_procedures(db, people, procedure):
    with pytest.raises(RuleViolation, match="in advance"):
        record(db, people["qa"], people["operator"], procedure, site_today() + timedelta(days=1))
    with pytest.raises(RuleViolation, match="No master batch record 'NOPE'"):
        record(db, people["qa"], people["operator"], "NOPE")


@pytest.mark.req("URS-EXE-008")
def test_untrained_users_are_refused_with_the_reason(db, people, procedure):
    op = people["operator"]
    with pytest.raises(RuleViolation) as refused:
        services.require_training(db, op, procedure, site_today())
    assert refused.value.message == f"{op.display_name} is not trained on {procedure}."


@pytest.mark.req("URS-EXE-008", "URS-TRN-002")
def test_expired_training_names_the_day_it_expired(db, people, procedure):
    op = people["operator"]
    record(db, people["qa"], op, procedure, date(2025, 1, 1), date(2025, 12, 31))
    assert services.current_training(db, op, procedure, date(2025, 12, 31)) is not None
    with pytest.raises(RuleViolation, match=r"is not trained on SHORT-TEST \(training expired on 2025-12-31\)\."):
        services.require_training(db, op, procedure, date(2026, 1, 1))


@pytest.mark.req("URS-TRN-002")
def test_retraining_counts_even_when_an_older_record_expired(db, people, procedure):
    op, qa = people["operator"], people["qa"]
    record(db, qa, op, procedure, date(2024, 1, 1), date(2024, 12, 31))
    newer = record(db, qa, op, procedure, date(2025, 1, 1), site_today() + timedelta(days=30))
    assert services.require_training(db, op, procedure, site_today()) == newer


@pytest.mark.req("URS-TRN-002", "URS-AUD-003")
def test_revoking_needs_a_reason_and_ends_the_training(db, people, procedure):
    op, sup = people["operator"], people["supervisor"]
    entry = record(db, sup, op, procedure)
    with pytest.raises(NotPermitted):
        services.revoke(db, op, entry, "no")
    with pytest.raises(RuleViolation, match="reason is required"):
        services.revoke(db, sup, entry, " ")
    services.revoke(db, sup, entry, "Recorded for the wrong person")
    [event] = events(db, "training.revoked")
    assert event.reason == "Recorded for the wrong person" and changes(event)["revoked_at"][0] is None
    with pytest.raises(RuleViolation, match=r"training revoked on \d{4}-\d\d-\d\d\)"):
        services.require_training(db, op, procedure, site_today())
    with pytest.raises(RuleViolation, match="already revoked"):
        services.revoke(db, sup, entry, "again")


@pytest.mark.req("URS-TRN-002")
def test_training_is_valid_until_midnight_at_the_site_on_its_last_day(app, db, people, procedure, monkeypatch):
    monkeypatch.setitem(app.config, "SITE_TIMEZONE", "America/New_York")  # behind UTC: the other edge
    op = people["operator"]
    last_day = utcnow().date() + timedelta(days=3)
    record(db, people["qa"], op, procedure, utcnow().date() - timedelta(days=3), last_day)
    midnight = datetime.combine(last_day + timedelta(days=1), time(0), ZoneInfo("America/New_York")).astimezone(UTC)
    with freeze_time(midnight - timedelta(seconds=1)):
        assert utcnow().date() == last_day + timedelta(days=1)  # already the next day in UTC
        assert services.require_training(db, op, procedure, site_today())
    with freeze_time(midnight):
        with pytest.raises(RuleViolation, match=f"training expired on {last_day.isoformat()}"):
            services.require_training(db, op, procedure, site_today())


@pytest.mark.req("URS-MAT-007")
def test_the_demo_seed_trains_everyone_once(db, people, procedure):
    names = [people["operator"].username, people["supervisor"].username]
    services.seed_demo_training(db, people["qa"], names, [procedure])
    services.seed_demo_training(db, people["qa"], names, [procedure])
    assert len(events(db, "training.recorded")) == 2
    for role in ("operator", "supervisor"):
        assert services.require_training(db, people[role], procedure, site_today())
    with pytest.raises(RuleViolation, match="No user 'ghost'"):
        services.seed_demo_training(db, people["qa"], ["ghost"], [procedure])
