"""Bad input to every form (issue #11 point 1; 21 CFR 11.10(d), (g), (h); Annex 11 §5).

Every POST route of the app (and every GET form with query arguments) is sent hostile values by
hypothesis: empty, huge, unicode, NaN/Infinity, SQL and HTML fragments, negative and extreme
decimals, wrong units, impossible dates and ids of other records. Each field of an example is
either the value a user would submit (read from the page's own form, so a request can succeed)
or a hostile one. For every answer:

- never a 500 and never a traceback; a hostile marker such as `<script>x</script>` never comes
  back unescaped (reflected XSS), nor on any page afterwards (stored XSS);
- a refusal (status >= 400) changes nothing: every table except `audit_events` has exactly the
  same rows (users: apart from the failed-password counter a wrong signing password raises),
  and the only new audit events are the refusal kinds in REFUSAL_EVENTS;
- an accepted request (< 400) changed only what its audit trail says: the chain verifies and
  every audited table matches the replay of its events (app.audit.integrity.check_all).

Also per route: the submission a user of the route's role would make, sent by a role that may
not use the route, is a 403 that changes nothing but an `access.denied` event (IDOR by URL);
routes naming a lot and one of its records answer 404 for a record of another lot; ids too
large for the database answer 404, not 500.

The site is built once per module in its own database (SQLite file, or a fresh PostgreSQL
database when the suite runs on PostgreSQL) and shared by the routes' tests: a request a test
lets through changes the state the next test sees, as on a real site. Examples per route:
CELLBATCH_FUZZ_EXAMPLES (default 4); CELLBATCH_FUZZ_RANDOM=1 drops the fixed seed.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import example as hypothesis_example
from hypothesis import strategies as st

from app import create_app
from app.audit.chain import verify_chain
from app.audit.integrity import check_all
from app.auth.roles import ALL_ROLES
from app.common.timeutil import site_today, utcnow
from app.extensions import db as _db
from config import TestConfig
from tests.conftest import PASSWORD
from tests.hardening.conftest import PostgresDatabases, cheap_documents, dispose, migrated_app
from tests.hardening.forms import Form, page_forms
from tests.hardening.world import World, build_world, route_values
from tests.test_routes_access import AUTHENTICATED, EXPECTED, PUBLIC

pytestmark = pytest.mark.req("URS-ACC-001", "URS-ACC-002", "URS-DAT-002", "URS-AUD-002")

EXAMPLES = int(os.environ.get("CELLBATCH_FUZZ_EXAMPLES", "4"))
RANDOM = os.environ.get("CELLBATCH_FUZZ_RANDOM") == "1"
MARKERS = ("<script>x</script>", "<img src=x onerror=alert(1)>")
#: Audit events a refused request may leave (the refusal's own record, a failed password).
REFUSAL_EVENTS = {"access.denied", "request.refused", "signature.refused", "auth.login_failed"}
#: Read-only requests that are themselves recorded (exports are explicit events).
READ_EVENTS = {"audit.exported", "document.downloaded"}
#: Columns a refusal may change: a wrong signing password counts toward lockout (not audited).
REFUSAL_COLUMNS = {"users": {"failed_attempts"}}
#: GET pages whose filter forms send query arguments (a test below checks none is missing).
GET_FORMS = ("audit.export", "audit.trail", "deviations.index", "documents.portal", "documents.verify",
             "inventory.equipment_list", "inventory.material_lots", "mbr.diff", "qc.spec_diff",
             "training.records")  # fmt: skip
#: Where the form of a POST-only route is shown (the route itself otherwise).
SOURCE = {
    **dict.fromkeys(("auth.deactivate", "auth.reactivate", "auth.reset_password", "auth.set_roles",
                     "auth.unlock"), "auth.user_detail"),
    "batches.record": "batches.step", "batches.verify": "batches.step",
    "deviations.close": "deviations.detail", "deviations.investigate": "deviations.detail",
    "documents.export_trail": "documents.lot_documents", "documents.regenerate": "documents.lot_documents",
    "inventory.equipment_calibration": "inventory.equipment_detail",
    "inventory.equipment_status": "inventory.equipment_detail",
    **dict.fromkeys(("inventory.expiry", "inventory.reject", "inventory.release"), "inventory.material_lot"),
    **dict.fromkeys(("mbr.approve", "mbr.make_effective", "mbr.retire"), "mbr.detail"), "mbr.load": "mbr.index",
    **dict.fromkeys(("qc.spec_approve", "qc.spec_make_effective", "qc.spec_retire"), "qc.spec_detail"),
    "qc.spec_load": "qc.index",
    **dict.fromkeys(("release.release", "release.reject", "release.sign_review"), "release.review"),
    "release.start_review": "release.index", "training.revoke": "training.records",
}  # fmt: skip
#: The user who would really submit the form (a second person where the rules ask for one).
ACTOR = {"batches.verify": "operator2", "qc_results.review": "qc_analyst2", "auth.change_password": "changer",
         "release.release": "qa2", "release.reject": "qa2"}  # fmt: skip
SKIPPED = {"auth.logout": "ends the session; tests/hardening/test_security_headers.py tests it"}

HOSTILE_TEXT = [
    "", " ", "\t\n", "<script>x</script>", '"><img src=x onerror=alert(1)>', "' OR '1'='1' --",
    "'; DROP TABLE lots; --", "\\", "%00", "\x00", "\u202e\u200b", "💉🧬", "Ünïcödé ✓", "{{7*7}}", "${7*7}",
    "NaN", "-nan", "sNaN", "Infinity", "-Infinity", "inf", "1e999999", "-1e-999999", "1E+30", "-0", "-1", "0",
    "0.0000000000000000000000000000001", "99999999999999999999999999999999.9", "9223372036854775808",
    "2147483648", "-2147483649", "1,5", "1.5.5", "12.5 mL", "12.5µL", "5 %", "١٢٣", "１２３", "0x1F", "+.5",
    "2026-02-30", "0001-01-01", "9999-12-31", "31/12/2026", "2026-13-01T25:61:61", "0001-01-01T00:00/9999-12-31T23:59",
    "../../etc/passwd", "null", "true", "[]", "{}", "A" * 300, "x" * 70_000,
]  # fmt: skip


def _hostile(forged_ids: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(HOSTILE_TEXT),
        st.sampled_from(forged_ids or ["1"]),
        st.text(max_size=40),
        st.integers(min_value=-(2**70), max_value=2**70).map(str),
        st.decimals(allow_nan=True, allow_infinity=True).map(str),
        st.sampled_from(MARKERS).map(lambda m: f"ok {m} ok"),
    )


# ---- the routes ------------------------------------------------------------------------------


def _static_rules() -> list[Any]:
    application = create_app(type("RulesConfig", (TestConfig,), {"SQLALCHEMY_DATABASE_URI": "sqlite://"}))
    return sorted((r for r in application.url_map.iter_rules() if r.endpoint != "static"), key=lambda r: r.endpoint)


RULES = _static_rules()
POST_ENDPOINTS = sorted({r.endpoint for r in RULES if "POST" in r.methods} - set(SKIPPED))


def _rule(app: Flask, endpoint: str) -> Any:
    return next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)


def _path(app: Flask, world: World, endpoint: str, **override: Any) -> str:
    rule = _rule(app, endpoint)
    values = route_values(world, endpoint, list(rule.arguments))
    values.update(override)
    return rule.build(values, append_unknown=False)[1]


def _allowed_roles(endpoint: str) -> set[str] | str:
    return EXPECTED[endpoint]


def _actor(endpoint: str) -> str | None:
    """The user key who submits the form (None: anonymous, for a public route)."""
    expected = _allowed_roles(endpoint)
    if endpoint in ACTOR:
        return ACTOR[endpoint]
    if expected == PUBLIC:
        return None
    if expected == AUTHENTICATED:
        return "operator"
    preference = ("operator", "supervisor", "qc_analyst", "qa", "auditor", "admin")
    return next(role for role in preference if role in expected)


def _denied_role(endpoint: str) -> str | None:
    expected = _allowed_roles(endpoint)
    if expected in (PUBLIC, AUTHENTICATED):
        return None
    return next(role for role in ("auditor", "admin", "operator", "qa") if role in ALL_ROLES and role not in expected)


# ---- the site --------------------------------------------------------------------------------


@dataclass
class Fuzz:
    app: Flask
    world: World
    metadata: sa.MetaData
    forged_ids: list[str]

    def client(self, user_key: str | None) -> FlaskClient:
        client = self.app.test_client()
        if user_key is not None:
            response = client.post("/login", data={"username": self.world.usernames[user_key], "password": PASSWORD})
            assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return client

    def state(self) -> tuple[int, dict[str, str]]:
        """The newest audit event id, and a digest of every other table's rows."""
        digests = {}
        with self.app.app_context(), _db.engine.connect() as connection:
            last = connection.execute(sa.text("SELECT coalesce(max(id), 0) FROM audit_events")).scalar()
            for table in self.metadata.sorted_tables:
                if table.name == "audit_events":
                    continue
                skip = REFUSAL_COLUMNS.get(table.name, set())
                columns = [c for c in table.columns if c.name not in skip]
                rows = connection.execute(sa.select(*columns).order_by(*table.primary_key.columns)).all()
                digests[table.name] = hashlib.sha256(repr(rows).encode()).hexdigest()
        return last, digests

    def events_after(self, last: int) -> list[str]:
        with self.app.app_context(), _db.engine.connect() as connection:
            return list(connection.execute(sa.text("SELECT action FROM audit_events WHERE id > :i ORDER BY id"),
                                           {"i": last}).scalars())  # fmt: skip

    def integrity_problems(self) -> list[str]:
        with self.app.app_context(), _db.engine.connect() as connection:
            report = verify_chain(connection)
            problems = [] if report.ok else [f"chain broken at {report.broken_id}: {report.problem}"]
            return problems + [str(m) for m in check_all(connection, _db.Model)]


@pytest.fixture(scope="module")
def fuzz(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzz]:
    databases = PostgresDatabases(database_url) if database_url.startswith("postgresql") else None
    if databases is not None:
        url = databases.url(databases.create("fuzz"))
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'fuzz.sqlite3'}"
    # A wrong signing password is counted but never locks the fuzzing users out (tested elsewhere).
    application = migrated_app(url, LOCKOUT_THRESHOLD=10**9)
    try:
        with application.app_context():
            world = build_world(_db.session)
            _db.session.remove()
            metadata = sa.MetaData()
            with _db.engine.connect() as connection:
                metadata.reflect(connection)
        forged = sorted({str(v) for values in world.forged.values() for v in values.values()} | {"0", "-1"})
        with cheap_documents():
            yield Fuzz(application, world, metadata, forged)
    finally:
        dispose(application)
        if databases is not None:
            databases.drop_all()


# ---- one request and its checks ---------------------------------------------------------------


def _send(client: FlaskClient, method: str, path: str, data: dict[str, Any]) -> Any:
    if method == "GET":
        return client.get(path, query_string={k: v for k, v in data.items() if not isinstance(v, tuple)})
    return client.post(path, data=data, content_type="multipart/form-data")


def _check(fuzz: Fuzz, client: FlaskClient, method: str, path: str, data: dict[str, Any],
           must_refuse: int | None = None) -> int:  # fmt: skip
    """Send one request and check every property in the module docstring; return the status."""
    last, before = fuzz.state()
    try:
        response = _send(client, method, path, data)
    except Exception as exc:  # noqa: BLE001 - an exception escaping the app is the failure reported
        raise AssertionError(f"{method} {path} raised {exc!r} for {_shown(data)}") from exc
    body = response.get_data(as_text=True)
    where = f"{method} {path} -> {response.status_code} for {_shown(data)}"
    assert response.status_code < 500, where
    assert "Traceback (most recent call last)" not in body, where
    for marker in MARKERS if response.mimetype == "text/html" else ():  # a CSV download is not a page
        assert marker not in body, f"unescaped {marker!r} in the answer to {where}"
    events = fuzz.events_after(last)
    if must_refuse is not None:
        assert response.status_code == must_refuse, f"expected {must_refuse}: {where}\n{body[:2000]}"
    if response.status_code >= 400:
        _, after = fuzz.state()
        changed = sorted(name for name in before if before[name] != after[name])
        assert not changed, f"refused, yet tables {changed} changed: {where}"
        allowed = REFUSAL_EVENTS | (READ_EVENTS if method == "GET" else set())
        assert set(events) <= allowed, f"refused, yet events {events}: {where}"
    elif events and set(events) - REFUSAL_EVENTS - READ_EVENTS:
        problems = fuzz.integrity_problems()
        assert not problems, f"accepted, but not as its audit trail says: {problems}: {where}"
    return response.status_code


def _shown(data: dict[str, Any]) -> str:
    def short(value: Any) -> Any:
        if isinstance(value, tuple):
            return f"<file {len(value[0]) if isinstance(value[0], bytes) else '?'} bytes>"
        return value if len(str(value)) < 80 else f"{str(value)[:40]}...({len(str(value))} chars)"

    return json.dumps({k: short(v) for k, v in data.items()}, ensure_ascii=True, default=str)


# ---- the forms ---------------------------------------------------------------------------------


def _form(fuzz: Fuzz, client: FlaskClient, endpoint: str, path: str, method: str) -> Form | None:
    """The form that submits to `path`, read from the page that shows it."""
    source = SOURCE.get(endpoint, endpoint)
    if "GET" not in _rule(fuzz.app, source).methods:
        return None
    page = client.get(_path(fuzz.app, fuzz.world, source))
    forms = [f for f in page_forms(page.get_data(as_text=True), path) if f.action == path and f.method == method]
    return forms[0] if forms else None


def _baseline(fuzz: Fuzz, endpoint: str, form: Form | None, user_key: str | None) -> dict[str, Any]:
    """What a user would submit: the form's own values, filled in where a person types."""
    data: dict[str, Any] = {}
    for name, item in form.fields.items() if form else ():
        if name == "csrf_token":
            continue
        value = item.value.strip() if item.kind == "textarea" else item.value
        if item.kind == "password":
            value = PASSWORD
        elif name.endswith("username") and user_key is not None:
            value = fuzz.world.usernames[user_key]
        elif item.kind in ("checkbox", "radio"):
            value = item.value or (item.options[0] if item.options else "y")
        elif item.kind == "select":
            value = item.value or next((o for o in item.options if o), "")
        elif item.kind == "date":
            value = value or site_today().isoformat()
        elif item.kind == "datetime-local":
            value = value or utcnow().strftime("%Y-%m-%dT%H:%M:%S")
        elif item.kind == "file":
            text = fuzz.world.spec_text if endpoint.startswith("qc.") else fuzz.world.definition_text
            value = (text.encode(), "upload.yaml")
        elif not value and item.kind in ("text", "textarea", "search", ""):
            value = "Checked as per SOP 12"
        data[name] = value
    if endpoint == "batches.record":
        data.update(fuzz.world.step_inputs)
        start = utcnow() - timedelta(minutes=20)
        data.update({"in_warming__start": start.strftime("%Y-%m-%dT%H:%M:%S"),
                     "in_warming__stop": utcnow().strftime("%Y-%m-%dT%H:%M:%S")})  # fmt: skip
    for name, values in form.buttons.items() if form else ():
        data[name] = next((v for v in values if v), "")
    if endpoint in ("mbr.diff", "qc.spec_diff"):
        version = fuzz.world.values["mbr" if endpoint.startswith("mbr") else "qc"]["version_id"]
        data.update({"from": str(version - 1), "to": str(version)})
    if endpoint in ("audit.trail", "documents.portal"):
        data["page"] = "1"
    return data


DATES = ["0001-01-01", "9999-12-31", "1900-02-29", "2026-02-30", "2026-1-1", "-2026-01-01", "20260101"]
DATETIMES = ["0001-01-01T00:00:00", "9999-12-31T23:59:59", "2026-03-29T02:30:00", "2026-13-01T25:61:61",
             "2026-01-01T00:00:00+99:00", "2026-01-01"]  # fmt: skip
NUMBERS = ["NaN", "-Infinity", "sNaN", "1e999999", "-1e-999999", "-0", "-1", "1,5", "12.5 mL", "１２", "99" * 40]


def _kind(name: str, value: Any) -> str:
    """What a field holds, judged from its name and the value a user would send."""
    if isinstance(value, tuple):
        return "file"
    if name.endswith(("__start", "__stop")) or (isinstance(value, str) and len(value) == 19 and value[10:11] == "T"):
        return "datetime"
    if isinstance(value, str) and len(value) == 10 and value[4:5] == "-" and value[7:8] == "-":
        return "date"
    if isinstance(value, str) and value.replace(".", "", 1).lstrip("-").isdigit():
        return "number"
    return "text"


def _fields_strategy(fuzz: Fuzz, baseline: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Each field keeps the user's value or gets a hostile one, typed values mostly typed hostiles."""
    hostile = _hostile(fuzz.forged_ids)
    typed = {"date": st.sampled_from(DATES), "datetime": st.sampled_from(DATETIMES), "number": st.sampled_from(NUMBERS)}

    def field(name: str, value: Any) -> st.SearchStrategy[Any]:
        kind = _kind(name, value)
        if kind == "file":  # a file upload: its bytes are hostile too
            return st.one_of(st.just(value), hostile.map(lambda t: (t.encode("utf-8", "surrogatepass"), "upload.yaml")))
        if kind in typed:
            return st.one_of(st.just(value), typed[kind], hostile)
        return st.one_of(st.just(value), hostile)

    return st.fixed_dictionaries({name: field(name, value) for name, value in baseline.items()})


def _extremes(baseline: dict[str, Any]) -> list[dict[str, Any]]:
    """Fixed examples per route: every field at once at its low, its high extreme, blank; every
    text field with a NUL character; and each typed field (date, time, number) alone at both
    extremes, the others as a user sends them."""
    low = {"date": "0001-01-01", "datetime": "0001-01-01T00:00:00", "number": "-1e999999",
           "file": (b"a: 2026-02-30\n", "x.yaml"),
           "text": "<script>x</script>"}  # fmt: skip
    high = {"date": "9999-12-31", "datetime": "9999-12-31T23:59:59", "number": "NaN",
            "file": (("x: " + "9" * 500 + "\n").encode() * 100, "x.yaml"), "text": "x" * 70_000}  # fmt: skip
    kinds = {name: _kind(name, value) for name, value in baseline.items()}
    examples = [{name: extreme[kinds[name]] for name in baseline} for extreme in (low, high)]
    examples.append({name: (b" ", "x.yaml") if kinds[name] == "file" else " " for name in baseline})  # all blank
    examples.append({name: "a\x00b" if kinds[name] == "text" else value for name, value in baseline.items()})
    for name, kind in kinds.items():
        if kind in ("date", "datetime", "number"):
            examples += [{**baseline, name: extreme[kind]} for extreme in (low, high)]
    return examples


def _fresh(data: dict[str, Any]) -> dict[str, Any]:
    """A request of the form: each upload (bytes, filename) becomes a stream of its own."""
    return {k: ((io.BytesIO(v[0]), v[1]) if isinstance(v, tuple) else v) for k, v in data.items()}


def _fuzz_route(fuzz: Fuzz, endpoint: str, method: str) -> None:
    user_key = _actor(endpoint)
    client = fuzz.client(user_key)
    path = _path(fuzz.app, fuzz.world, endpoint)
    form = _form(fuzz, client, endpoint, path, method.lower())
    baseline = _baseline(fuzz, endpoint, form, user_key)

    # The role that may not use the route sends what the right role would: 403, nothing changed.
    denied = _denied_role(endpoint)
    if denied is not None:
        _check(fuzz, fuzz.client(denied), method, path, _fresh(baseline), must_refuse=403)
    # A record of another lot under this lot's URL is not found.
    if endpoint in fuzz.world.forged:
        forged_path = _path(fuzz.app, fuzz.world, endpoint, **fuzz.world.forged[endpoint])
        _check(fuzz, client, method, forged_path, _fresh(baseline), must_refuse=404)
    # Ids beyond any database integer are not found either (never a database overflow).
    rule = _rule(fuzz.app, endpoint)
    for name, converter in rule._converters.items():
        if type(converter).__name__.endswith("IntegerConverter"):
            for huge in (2**31, 2**63, 10**20):
                _check(fuzz, client, method, _path(fuzz.app, fuzz.world, endpoint, **{name: huge}), _fresh(baseline),
                       must_refuse=404)  # fmt: skip

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=not RANDOM,
              suppress_health_check=list(HealthCheck),
              phases=(Phase.explicit, Phase.generate, Phase.shrink))  # fmt: skip
    @given(data=_fields_strategy(fuzz, baseline))
    def example(data: dict[str, Any]) -> None:
        _check(fuzz, client, method, path, _fresh(data))

    for extreme in _extremes(baseline):
        example = hypothesis_example(data=extreme)(example)
    example()


@pytest.mark.parametrize("endpoint", POST_ENDPOINTS)
def test_hostile_form_posts_are_refused_cleanly(fuzz, endpoint):
    _fuzz_route(fuzz, endpoint, "POST")


@pytest.mark.parametrize("endpoint", GET_FORMS)
def test_hostile_query_arguments_are_refused_cleanly(fuzz, endpoint):
    _fuzz_route(fuzz, endpoint, "GET")


def test_every_form_of_every_page_is_fuzzed_and_no_page_shows_a_marker(fuzz):
    """Walk every GET page as each role that may see it: any GET form is in GET_FORMS, every POST
    form targets a fuzzed route, and nothing stored by the fuzzing shows unescaped (stored XSS)."""
    fuzzed = set(GET_FORMS) | set(POST_ENDPOINTS) | set(SKIPPED)
    adapter = fuzz.app.url_map.bind("localhost")
    problems = []
    clients = {role: fuzz.client(role) for role in ("operator", "supervisor", "qc_analyst", "qa", "auditor", "admin")}
    for rule in RULES:
        if "GET" not in rule.methods or rule.arguments - set().union(*fuzz.world.values.values()):
            continue
        expected = EXPECTED[rule.endpoint]
        roles = [r for r in clients if expected in (PUBLIC, AUTHENTICATED) or r in expected]
        path = _path(fuzz.app, fuzz.world, rule.endpoint)
        for role in roles:
            response = clients[role].get(path)
            body = response.get_data(as_text=True)
            if response.status_code >= 500:
                problems.append(f"GET {path} as {role}: {response.status_code}")
            if not response.mimetype == "text/html":
                continue
            if any(m in body for m in MARKERS):
                problems.append(f"GET {path} as {role}: a stored marker is shown unescaped")
            for form in page_forms(body, path):
                try:
                    endpoint = adapter.match(form.action, method=form.method.upper())[0]
                except Exception:  # noqa: BLE001 - a form posting to no route is itself a problem
                    problems.append(f"{path}: form to {form.action} ({form.method}) matches no route")
                    continue
                if endpoint not in fuzzed:
                    problems.append(f"{path}: form to {endpoint} ({form.method}) is not fuzzed here")
    assert not problems, "\n".join(sorted(set(problems)))
