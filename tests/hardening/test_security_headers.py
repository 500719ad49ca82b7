"""Attacks (issue #11 point 2): headers, cookies, sessions, CSRF, enumeration, production settings.

- every answer (pages, error pages, redirects, static files) carries a Content-Security-Policy
  without 'unsafe-inline' (or 'unsafe-eval'), frame-ancestors 'none', nosniff and a referrer policy;
- the session cookie is HttpOnly and SameSite (and Secure, with HSTS, in production);
- session fixation: login issues a new session and carries nothing of the pre-login one; a copy of
  the pre-login cookie stays anonymous; a copy of a logged-in cookie is dead after logout;
- CSRF: with protection on (as in production), every POST route refuses a request without a
  token, or with another session's token, with a 400 that changes nothing;
- no user enumeration: unknown user, wrong password, locked and inactive account get the same
  status and page, and cost the same password verification;
- production: secrets and the database only from the environment; it refuses to start without a
  strong secret key or on SQLite, and never falls back to the development key file.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from app.auth import services as auth
from app.common.timeutil import utcnow
from app.deviations.models import Deviation, DeviationStatus
from config import BASE_DIR
from tests.auth.helpers import events, is_login_redirect, log_in, text
from tests.conftest import PASSWORD
from tests.hardening.conftest import dump_tables
from tests.hardening.world import build_world, route_values
from tests.test_routes_access import AUTHENTICATED, EXPECTED, PUBLIC, ROLES, SESSION_COOKIE, _request, _rules

pytestmark = pytest.mark.req("URS-SEC-001", "URS-SEC-003", "URS-SEC-004", "URS-ACC-009", "URS-ACC-003")


def _csp(response) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    policy = response.headers.get("Content-Security-Policy", "")
    return {d.split()[0]: d.split()[1:] for d in (p.strip() for p in policy.split(";")) if d}


def _header_problems(response, where: str) -> list[str]:  # type: ignore[no-untyped-def]
    csp, problems = _csp(response), []
    for directive in ("default-src", "script-src", "style-src"):
        sources = csp.get(directive, csp.get("default-src", []))
        if "'unsafe-inline'" in sources or "'unsafe-eval'" in sources or "*" in sources:
            problems.append(f"{where}: {directive} {' '.join(sources)}")
    expectations = {
        "frame-ancestors": csp.get("frame-ancestors") == ["'none'"],
        "object-src": csp.get("object-src") == ["'none'"],
        "base-uri": bool(csp.get("base-uri")),
        "nosniff": response.headers.get("X-Content-Type-Options") == "nosniff",
        "referrer": response.headers.get("Referrer-Policy") in ("same-origin", "no-referrer", "strict-origin"),
    }
    problems += [f"{where}: {name} missing or wrong" for name, ok in expectations.items() if not ok]
    return problems


def test_every_answer_carries_the_security_headers(app, client, db, make_user):
    """Every GET route as a role allowed on it (pages, 404s for missing records, redirects),
    the anonymous login page, a 403, an unknown URL, a refused POST and a static file."""
    clients = {}
    for role in ROLES:
        clients[role] = app.test_client()
        assert log_in(clients[role], make_user(role).username).status_code == 302
    problems = []
    for rule in _rules(app):
        if "GET" not in rule.methods:
            continue
        expected = EXPECTED[rule.endpoint]
        role = next(r for r in ROLES if expected in (PUBLIC, AUTHENTICATED) or r in expected)
        _, path = _request(rule)
        problems += _header_problems(clients[role].get(path), f"GET {path} as {role}")
    anonymous = app.test_client()
    for where, response in {
        "login page": anonymous.get("/login"),
        "anonymous redirect": anonymous.get("/audit/"),
        "static file": anonymous.get("/static/cellbatch.css"),
        "unknown URL": clients["qa"].get("/no/such/page"),
        "403": clients["operator"].get("/admin/users"),
        "refused login": anonymous.post("/login", data={"username": "x", "password": "y"}),
    }.items():
        problems += _header_problems(response, where)
        response.close()
    assert not problems, "\n".join(problems)
    assert clients["qa"].get("/").headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in anonymous.get("/login").headers  # not over plain HTTP tests


def test_pages_need_no_inline_script_or_style(app):
    """CSP without 'unsafe-inline' works only if the page templates have no inline code: none has."""
    inline = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\son[a-z]+\s*=|\sstyle\s*=", re.IGNORECASE)
    pdf_only = {"_pdf_base.html", "coa.html", "batch_record.html", "audit_trail.html", "_parts.html"}
    folders = {Path(app.root_path) / app.template_folder} | {
        Path(bp.root_path) / bp.template_folder for bp in app.iter_blueprints() if bp.template_folder
    }
    found = []
    for path in sorted(p for folder in folders for p in folder.rglob("*.html")):
        if path.parent.name == "documents" and path.name in pdf_only:
            continue  # rendered to PDF by WeasyPrint, never served as a page
        found += [f"{path.relative_to(BASE_DIR)}: {m.group(0)!r}" for m in inline.finditer(path.read_text())]
    assert not found, "\n".join(found)


def _cookie_header(response) -> str:  # type: ignore[no-untyped-def]
    return next(v for v in response.headers.getlist("Set-Cookie") if v.startswith(SESSION_COOKIE + "="))


def test_session_cookie_is_httponly_and_samesite(client, db, make_user):
    cookie = _cookie_header(log_in(client, make_user("operator").username))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie, cookie


def test_login_starts_a_new_session_and_carries_nothing_of_the_old_one(app, client, db, make_user):
    user = make_user("qa")
    client.get("/login")
    with client.session_transaction() as planted:  # e.g. an attacker's cookie planted in the browser
        planted["_fresh"] = True
        planted["next_url"] = "https://evil.example/"
        planted["esig_username_needed"] = False
    before = client.get_cookie(SESSION_COOKIE).value
    assert log_in(client, user.username).status_code == 302
    after = client.get_cookie(SESSION_COOKIE).value
    assert after != before
    with client.session_transaction() as session:
        assert "next_url" not in session
        assert session["esig_username_needed"] is True  # the first signature asks for the username again
    attacker = app.test_client()
    attacker.set_cookie(SESSION_COOKIE, before)
    assert is_login_redirect(attacker.get("/audit/"))  # the planted session never became the user's


def test_a_copied_session_cookie_is_dead_after_logout(app, client, db, make_user):
    user = make_user("qa")
    assert log_in(client, user.username).status_code == 302
    stolen = client.get_cookie(SESSION_COOKIE).value
    thief = app.test_client()
    thief.set_cookie(SESSION_COOKIE, stolen)
    assert thief.get("/audit/").status_code == 200
    assert client.post("/logout").status_code == 302
    assert is_login_redirect(thief.get("/audit/"))
    [logout] = events(db, "auth.logout")
    assert (logout.actor_id, logout.entity_id) == (user.id, str(user.id))
    assert log_in(client, user.username).status_code == 302  # logging in again works


def test_failed_logins_do_not_tell_which_usernames_exist(client, db, make_user, monkeypatch):
    wrong = make_user("operator")
    inactive = make_user("operator")
    locked = make_user("operator")
    admin = make_user("admin")
    auth.set_active(db, admin, inactive, False, "Left")
    from app.audit import capture as audit
    from app.audit.capture import Actor

    with audit.action(db, "test.locked", Actor.system("tests")):
        locked.locked_until = utcnow() + timedelta(minutes=30)
    db.commit()
    verified = []
    original = PasswordHasher.verify
    monkeypatch.setattr(PasswordHasher, "verify", lambda self, h, p: verified.append(1) or original(self, h, p))
    answers = {}
    for case, username, password in (
        ("unknown", "no.such.user", PASSWORD),
        ("wrong", wrong.username, "wrong-pw-123"),
        ("inactive", inactive.username, PASSWORD),
        ("locked", locked.username, PASSWORD),
    ):
        verified.clear()
        response = log_in(client, username, password)
        answers[case] = (response.status_code, text(response).replace(username, "USERNAME"), len(verified))
    assert len(set(answers.values())) == 1, {case: (a[0], a[2]) for case, a in answers.items()}
    assert answers["unknown"][0] == 401 and answers["unknown"][2] == 1  # one argon2 verification, always


# ---- CSRF on every POST route --------------------------------------------------------------------

_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def _csrf_login(app, username: str):  # type: ignore[no-untyped-def]
    client = app.test_client()
    token = _TOKEN.search(text(client.get("/login"))).group(1)
    response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, text(response)[:300]
    return client


def test_every_post_route_refuses_a_missing_or_foreign_csrf_token(make_app, db):
    app = make_app(WTF_CSRF_ENABLED=True)
    world = build_world(db)
    clients = {key: _csrf_login(app, world.usernames[key]) for key in
               ("operator", "supervisor", "qc_analyst", "qa", "auditor", "admin")}  # fmt: skip
    foreign = _TOKEN.search(text(clients["qa"].get("/password"))).group(1)  # valid, but the QA user's session
    payload = {"reason": "Approved change 12", "root_cause": "Worn latch", "impact": "None", "sig_password": PASSWORD,
               "sig_username": "x", "sig_accept_policy": "y", "username": world.usernames["qa"],
               "password": PASSWORD, "effective_on": "2030-01-01", "effective_reason": "CC-1"}  # fmt: skip
    db.expire_all()
    before = dump_tables(db.connection())
    problems, checked = [], 0
    for rule in _rules(app):
        if "POST" not in rule.methods:
            continue
        expected = EXPECTED[rule.endpoint]
        role = next((r for r in clients if expected in (PUBLIC, AUTHENTICATED) or r in expected), "qa")
        path = rule.build(route_values(world, rule.endpoint, list(rule.arguments)), append_unknown=False)[1]
        for label, data in (("no token", payload), ("another session's token", {**payload, "csrf_token": foreign})):
            client = app.test_client() if expected == PUBLIC else clients[role if label == "no token" else "operator"]
            response = client.post(path, data=data)
            checked += 1
            if response.status_code != 400 or "did not come from this site" not in text(response):
                problems.append(f"POST {path} ({rule.endpoint}) with {label}: {response.status_code}")
    assert not problems, "\n".join(problems)
    assert checked >= 2 * 40
    db.expire_all()
    assert dump_tables(db.connection()) == before  # not even an audit event
    # The same form with its own token is accepted: the refusals above were the token's doing.
    deviation_id = route_values(world, "deviations.investigate", ["deviation_id"])["deviation_id"]
    page = text(clients["supervisor"].get(f"/deviations/{deviation_id}"))
    done = clients["supervisor"].post(f"/deviations/{deviation_id}/investigation", data={
        "root_cause": "Worn latch", "impact": "None", "csrf_token": _TOKEN.search(page).group(1)})  # fmt: skip
    assert done.status_code == 302, text(done)[:500]
    assert db.get(Deviation, deviation_id, populate_existing=True).status == DeviationStatus.INVESTIGATION


# ---- production configuration ------------------------------------------------------------------

_PROBE = """
import json, sys
from app import create_app
try:
    app = create_app("production")
except RuntimeError as exc:
    print(json.dumps({"refused": str(exc)})); sys.exit(0)
client = app.test_client()
page = client.get("/login")
print(json.dumps({
    "secret_from_env": app.config["SECRET_KEY"] == __import__("os").environ.get("CELLBATCH_SECRET_KEY"),
    "database": app.config["SQLALCHEMY_DATABASE_URI"], "csrf": app.config.get("WTF_CSRF_ENABLED", True),
    "signing_key": app.config.get("SIGNING_KEY"), "hsts": page.headers.get("Strict-Transport-Security"),
    "cookies": page.headers.getlist("Set-Cookie"), "status": page.status_code,
}))
"""
STRONG = "s" * 48
POSTGRES = "postgresql+psycopg://cellbatch@127.0.0.1:1/cellbatch"  # never connected to


def _production(tmp_path: Path, **env: str) -> dict:
    """Start the production app in a clean process with only these CELLBATCH_* variables."""
    instance = tmp_path / "instance"
    (instance / "document-signing").mkdir(parents=True, exist_ok=True)
    (instance / "secret_key").write_text("development-key-must-never-be-used-in-production")
    (instance / "document-signing" / "key.pem").write_text("dev key")
    clean = {k: v for k, v in __import__("os").environ.items() if not k.startswith("CELLBATCH_")}
    clean.update({"CELLBATCH_ENV": "production", "CELLBATCH_INSTANCE_PATH": str(instance), **env})
    done = subprocess.run([sys.executable, "-c", _PROBE], cwd=BASE_DIR, env=clean, capture_output=True,  # noqa: S603
                          text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_production_takes_secrets_from_the_environment_and_sets_hsts_and_secure_cookies(tmp_path):
    started = _production(tmp_path, CELLBATCH_SECRET_KEY=STRONG, CELLBATCH_DATABASE_URL=POSTGRES)
    assert "refused" not in started, started
    assert started["secret_from_env"] and started["database"] == POSTGRES and started["csrf"] is True
    assert started["signing_key"] is None  # the development key file under instance/ is not used
    assert started["hsts"] == "max-age=31536000; includeSubDomains"
    [cookie] = [c for c in started["cookies"] if c.startswith(SESSION_COOKIE + "=")]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie, cookie


@pytest.mark.parametrize(("env", "why"), [
    ({"CELLBATCH_DATABASE_URL": POSTGRES}, "CELLBATCH_SECRET_KEY must be set"),
    ({"CELLBATCH_SECRET_KEY": "short", "CELLBATCH_DATABASE_URL": POSTGRES}, "CELLBATCH_SECRET_KEY must be set"),
    ({"CELLBATCH_SECRET_KEY": STRONG}, "production needs PostgreSQL"),
    ({"CELLBATCH_SECRET_KEY": STRONG, "CELLBATCH_DATABASE_URL": "sqlite:////tmp/x.db"}, "production needs PostgreSQL"),
], ids=["no-secret", "weak-secret", "no-database", "sqlite"])  # fmt: skip
def test_production_refuses_to_start_without_a_secret_or_on_sqlite(tmp_path, env, why):
    started = _production(tmp_path, **env)
    assert why in started.get("refused", ""), started
