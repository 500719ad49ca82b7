"""The audit trail viewer and export for QA and auditors (11.10(b), 11.10(e), Annex 11 §9)."""

from __future__ import annotations

import csv
import io
import re

import pytest
from freezegun import freeze_time

from app.audit import capture as audit
from app.audit.capture import Actor
from tests.auth.helpers import details, events, text

pytestmark = pytest.mark.req("URS-AUD-008")


def _ids(page: str) -> list[int]:
    return [int(n) for n in re.findall(r"<tr>\s*<td>(\d+)</td>", page)]


@pytest.fixture
def trail(db, make_user):  # type: ignore[no-untyped-def]
    """Events on two lots by two people at known times (site zone: Europe/Berlin)."""
    alice = make_user("operator", full_name="Alice Op")
    bob = make_user("supervisor", full_name="Bob Sup")
    seeded = {}
    for when, who, action, lot, entity in (
        ("2026-01-15 10:00:00", alice, "step.performed", 1, ("StepRecord", "11")),
        ("2026-01-15 22:30:00", bob, "step.verified", 1, ("StepRecord", "11")),  # 23:30 CET, 15th
        ("2026-01-15 23:30:00", alice, "entry.corrected", 2, ("Entry", "5")),  # 00:30 CET, 16th
        ("2026-01-17 09:00:00", bob, "step.performed", 2, ("StepRecord", "12")),
    ):
        with freeze_time(when):
            seeded[(action, lot)] = audit.record(db, action, Actor.of(who), entity_ref=entity, lot_id=lot,
                                                 reason="typo" if action == "entry.corrected" else None)  # fmt: skip
    db.commit()
    return {"alice": alice, "bob": bob, **{f"{a}@{lot}": i for (a, lot), i in seeded.items()}}


@pytest.mark.parametrize("role", ["qa", "auditor"])
def test_qa_and_auditors_filter_the_trail(client, db, make_user, login, trail, role):
    login(make_user(role))
    ev = trail

    def shown(**query):  # type: ignore[no-untyped-def]
        response = client.get("/audit/", query_string=query)
        assert response.status_code == 200
        return [i for i in _ids(text(response)) if i in {ev["step.performed@1"], ev["step.verified@1"],
                                                           ev["entry.corrected@2"], ev["step.performed@2"]}]

    assert shown(lot_id=1) == [ev["step.verified@1"], ev["step.performed@1"]]
    assert shown(actor_id=trail["alice"].id) == [ev["entry.corrected@2"], ev["step.performed@1"]]
    assert shown(entity_type="StepRecord", entity_id="12") == [ev["step.performed@2"]]
    assert shown(action="step.") == [ev["step.performed@2"], ev["step.verified@1"], ev["step.performed@1"]]
    assert shown(date_from="2026-01-16", date_to="2026-01-16") == [ev["entry.corrected@2"]]
    assert shown(date_from="2026-01-15", date_to="2026-01-15") == [ev["step.verified@1"], ev["step.performed@1"]]
    page = text(client.get("/audit/", query_string={"lot_id": 2}))
    assert "2026-01-16 00:30:00 CET" in page  # site time with the zone
    assert "typo" in page


def test_invalid_filters_show_nothing_and_say_why(client, db, make_user, login, trail):
    login(make_user("qa"))
    response = client.get("/audit/", query_string={"lot_id": "abc"})
    assert response.status_code == 400
    assert _ids(text(response)) == []


def test_pages_hold_fifty_events_newest_first(client, db, make_user, login):
    for n in range(120):
        audit.record(db, "test.bulk", Actor.system("tests"), n=n)
    db.commit()
    login(make_user("auditor"))
    first = text(client.get("/audit/", query_string={"action": "test.bulk"}))
    third = text(client.get("/audit/", query_string={"action": "test.bulk", "page": 3}))
    bulk = [e.id for e in events(db, "test.bulk")]
    assert _ids(first) == bulk[::-1][:50]
    assert _ids(third) == bulk[::-1][100:]
    assert "120 event(s), newest first · page 1 of 3" in first
    assert "older →" in first and "newer" not in first
    assert "action=test.bulk" in first  # the pager keeps the filter


def test_csv_export_has_the_filtered_rows_and_is_itself_audited(client, db, make_user, login, trail):
    auditor = make_user("auditor")
    login(auditor)
    response = client.get("/audit/export.csv", query_string={"lot_id": 2})
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(text(response))))
    assert [int(r["id"]) for r in rows] == [trail["entry.corrected@2"], trail["step.performed@2"]]
    corrected = rows[0]
    assert corrected["occurred_at_utc"] == "2026-01-15T23:30:00Z"
    assert (corrected["actor_name"], corrected["reason"], corrected["lot_id"]) == (
        f"Alice Op ({trail['alice'].username})", "typo", "2")
    assert len(corrected["hash"]) == 64
    [export] = events(db, "audit.exported")
    assert (export.actor_id, export.lot_id) == (auditor.id, 2)
    assert details(export) == {"filters": {"lot_id": "2"}, "format": "csv", "rows": 2}


@pytest.mark.req("URS-ACC-002")
def test_operators_cannot_see_or_export_the_trail(client, db, make_user, login):
    operator = make_user("operator")
    login(operator)
    assert client.get("/audit/").status_code == 403
    assert client.get("/audit/export.csv").status_code == 403
    assert events(db, "audit.exported") == []
    assert [details(e)["endpoint"] for e in events(db, "access.denied")] == ["audit.trail", "audit.export"]
