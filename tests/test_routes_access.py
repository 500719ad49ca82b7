"""Every route, every role: who may use it is decided here, once (21 CFR 11.10(d), 11.10(g)).

ADDING A ROUTE? Add one line to EXPECTED below (keep it sorted by endpoint): the endpoint, then
PUBLIC (anyone, logged in or not), AUTHENTICATED (any logged-in user) or the set of roles that
may use it. The test then walks the route as every role and as an anonymous visitor:
- a role not listed must get 403 and leave an `access.denied` audit event;
- an anonymous visitor must be sent to /login (unless the route is PUBLIC);
- a listed role must get past the access check (404/400/409 for the dummy ids are fine).
URLs are built with dummy arguments (int 1, string "x"); the method is GET, or POST for a
POST-only route (the suite disables CSRF, so the POST reaches the access check).
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from werkzeug.routing.converters import AnyConverter, NumberConverter, UUIDConverter

from app.audit.models import AuditEvent
from app.auth.roles import ADMIN, ALL_ROLES, AUDITOR, OPERATOR, QA, QC_ANALYST, SUPERVISOR
from tests.auth.helpers import is_login_redirect, log_in

pytestmark = pytest.mark.req("URS-ACC-001", "URS-ACC-002")

PUBLIC = "PUBLIC"
AUTHENTICATED = "AUTHENTICATED"
MBR_READERS = {OPERATOR, SUPERVISOR, QA, AUDITOR}
SPEC_READERS = {QC_ANALYST, QA, AUDITOR}
LOT_READERS = {OPERATOR, SUPERVISOR, QC_ANALYST, QA, AUDITOR}
DEVIATION_READERS = {OPERATOR, SUPERVISOR, QC_ANALYST, QA, AUDITOR}
INVENTORY_READERS = {OPERATOR, SUPERVISOR, QC_ANALYST, QA, AUDITOR}

EXPECTED: dict[str, str | set[str]] = {
    "audit.export": {QA, AUDITOR},
    "audit.trail": {QA, AUDITOR},
    "auth.change_password": AUTHENTICATED,
    "auth.create_user": {ADMIN},
    "auth.deactivate": {ADMIN},
    "auth.login": PUBLIC,
    "auth.logout": AUTHENTICATED,
    "auth.reactivate": {ADMIN},
    "auth.reset_password": {ADMIN},
    "auth.set_roles": {ADMIN},
    "auth.unlock": {ADMIN},
    "auth.user_detail": {ADMIN},
    "auth.users": {ADMIN},
    "batches.correct": {OPERATOR, SUPERVISOR},
    "batches.label_data": {OPERATOR, SUPERVISOR, QA},
    "batches.lot_detail": LOT_READERS,
    "batches.record": {OPERATOR, SUPERVISOR},
    "batches.start": {SUPERVISOR},
    "batches.step": LOT_READERS,
    "batches.verify": {OPERATOR, SUPERVISOR},
    "batches.worklist": LOT_READERS,
    "deviations.close": {QA},
    "deviations.detail": DEVIATION_READERS,
    "deviations.index": DEVIATION_READERS,
    "deviations.investigate": {SUPERVISOR, QA},
    "deviations.raise_deviation": {OPERATOR, SUPERVISOR, QC_ANALYST, QA},
    "documents.download": {QA, AUDITOR},
    "documents.export_trail": {QA, AUDITOR},
    "documents.lot_documents": {QA, AUDITOR},
    "documents.portal": {QA, AUDITOR},
    "documents.regenerate": {QA},
    "documents.render_pending": {QA},
    "documents.verify": PUBLIC,
    "documents.verify_document": PUBLIC,
    "documents.verify_hash": PUBLIC,
    "home.index": AUTHENTICATED,
    "inventory.equipment_calibration": {SUPERVISOR, QA},
    "inventory.equipment_detail": INVENTORY_READERS,
    "inventory.equipment_list": INVENTORY_READERS,
    "inventory.equipment_new": {SUPERVISOR, QA},
    "inventory.equipment_status": {SUPERVISOR, QA},
    "inventory.expiry": {QA},
    "inventory.material_lot": INVENTORY_READERS,
    "inventory.material_lots": INVENTORY_READERS,
    "inventory.receive": {SUPERVISOR, QA},
    "inventory.reject": {QA},
    "inventory.release": {QA},
    "mbr.approve": {QA},
    "mbr.detail": MBR_READERS,
    "mbr.diff": MBR_READERS,
    "mbr.index": MBR_READERS,
    "mbr.load": {SUPERVISOR, QA},
    "mbr.make_effective": {QA},
    "mbr.retire": {QA},
    "qc.index": SPEC_READERS,
    "qc.spec_approve": {QA},
    "qc.spec_detail": SPEC_READERS,
    "qc.spec_diff": SPEC_READERS,
    "qc.spec_load": {QC_ANALYST, QA},
    "qc.spec_make_effective": {QA},
    "qc.spec_retire": {QA},
    "qc_results.enter": {QC_ANALYST},
    "qc_results.index": SPEC_READERS,
    "qc_results.lot_results": SPEC_READERS,
    "qc_results.retest": {QC_ANALYST},
    "qc_results.review": {QC_ANALYST},
    "release.index": {QA},
    "release.reject": {QA},
    "release.release": {QA},
    "release.review": {QA},
    "release.sign_review": {QA},
    "release.start_review": {QA},
    "training.record_new": {SUPERVISOR, QA},
    "training.records": {SUPERVISOR, QA, AUDITOR},
    "training.revoke": {SUPERVISOR, QA},
}
ROLES = (OPERATOR, SUPERVISOR, QC_ANALYST, QA, AUDITOR, ADMIN)
SESSION_COOKIE = "cellbatch_session"


def _rules(app):  # type: ignore[no-untyped-def]
    return sorted((r for r in app.url_map.iter_rules() if r.endpoint != "static"),
                  key=lambda r: (r.endpoint, r.rule))  # fmt: skip


def _dummy(converter) -> object:  # type: ignore[no-untyped-def]
    if isinstance(converter, NumberConverter):
        return converter.num_convert(1)
    if isinstance(converter, AnyConverter):
        return sorted(converter.items)[0]
    if isinstance(converter, UUIDConverter):
        return "00000000-0000-0000-0000-000000000001"
    return "x"


def _request(rule) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    values = {name: _dummy(conv) for name, conv in rule._converters.items()}
    _, path = rule.build(values, append_unknown=False)
    return ("GET" if "GET" in rule.methods else "POST"), path


def _allowed(endpoint: str, role: str | None) -> bool:
    expected = EXPECTED[endpoint]
    if expected == PUBLIC:
        return True
    if role is None:
        return False
    return expected == AUTHENTICATED or role in expected


def test_roles_walked_here_are_all_the_roles():
    assert set(ROLES) == set(ALL_ROLES)


def test_every_route_has_an_access_decision_here(app):
    endpoints = {r.endpoint for r in _rules(app)}
    missing = sorted(endpoints - set(EXPECTED))
    stale = sorted(set(EXPECTED) - endpoints)
    assert not missing, (
        f"routes without an entry in EXPECTED (tests/test_routes_access.py): {missing}. "
        "Add one line per endpoint: PUBLIC, AUTHENTICATED or the set of roles allowed.")
    assert not stale, f"EXPECTED names endpoints that no longer exist: {stale}; remove them."
    assert list(EXPECTED) == sorted(EXPECTED), "keep EXPECTED sorted by endpoint"
    for endpoint, expected in EXPECTED.items():
        assert expected in (PUBLIC, AUTHENTICATED) or (expected and expected <= set(ALL_ROLES)), endpoint


def _client_as(app, user):  # type: ignore[no-untyped-def]
    """A fresh client carrying the session cookie of one real login (one login per role)."""
    if user is None:
        return lambda: app.test_client()
    first = app.test_client()
    assert log_in(first, user.username).status_code == 302
    cookie = first.get_cookie(SESSION_COOKIE).value

    def fresh():  # type: ignore[no-untyped-def]
        client = app.test_client()
        client.set_cookie(SESSION_COOKIE, cookie)
        return client

    return fresh


@pytest.mark.parametrize("role", [*ROLES, None], ids=[*ROLES, "anonymous"])
def test_each_route_answers_each_role_as_expected(app, db, make_user, role):
    make_user("operator", username="dummy.target")  # so that id 1 is nobody under test (SQLite)
    user = make_user(role) if role else None
    new_client = _client_as(app, user)
    problems, denied = [], []
    # Logging out rotates the user's session token (the shared cookie stops working): walk it last.
    for rule in sorted(_rules(app), key=lambda r: r.endpoint == "auth.logout"):
        if rule.endpoint not in EXPECTED:
            continue  # reported by test_every_route_has_an_access_decision_here
        method, path = _request(rule)
        try:
            response = new_client().open(path, method=method)
        except Exception as exc:  # noqa: BLE001 - report every route, not only the first
            problems.append(f"{method} {path} ({rule.endpoint}): raised {exc!r}")
            continue
        status, where = response.status_code, response.headers.get("Location", "")
        if _allowed(rule.endpoint, role):
            if status == 403 or is_login_redirect(response) or status >= 500:
                problems.append(f"{method} {path} ({rule.endpoint}): allowed, got {status} {where}")
        elif role is None:
            if not is_login_redirect(response):
                problems.append(f"{method} {path} ({rule.endpoint}): anonymous, got {status} {where}")
        elif status != 403:
            problems.append(f"{method} {path} ({rule.endpoint}): denied, got {status} {where}")
        else:
            denied.append(rule.endpoint)
    assert not problems, f"as {role or 'anonymous'}:\n" + "\n".join(problems)
    if user is not None:
        recorded = db.scalars(select(AuditEvent.details).where(
            AuditEvent.action == "access.denied", AuditEvent.actor_id == user.id)).all()  # fmt: skip
        assert sorted(json.loads(d)["endpoint"] for d in recorded) == sorted(denied)
