"""QC specification versions: the same loader, lifecycle and pages as master batch records."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from markupsafe import escape

from app.common.errors import NotPermitted, RuleViolation
from app.common.timeutil import site_today
from app.common.yamlfile import DefinitionError, sha256_text
from app.mbr import services
from app.mbr.versioning import DefinitionStatus
from app.qc.models import SpecVersion
from app.qc.spec_schema import parse_spec
from tests.conftest import PASSWORD
from tests.mbr.helpers import SHIPPED_SPECS, count, creds, details, effective, events

SPEC = SHIPPED_SPECS[0] if SHIPPED_SPECS else None


def _load(db, path=SPEC, author=None, text=None):
    result = services.load_text(db, SpecVersion, parse_spec, path.read_text() if text is None else text,
                                path.name, author)
    db.commit()
    return result


def _changed():
    return SPEC.read_text().replace("title: ", "title: Revised ", 1)


@pytest.mark.req("URS-QC-009")
def test_two_specifications_are_shipped():
    assert len(SHIPPED_SPECS) >= 2, [p.name for p in SHIPPED_SPECS]


@pytest.mark.req("URS-QC-009", "URS-QC-001")
@pytest.mark.parametrize("path", SHIPPED_SPECS, ids=lambda p: p.name)
def test_shipped_specifications_load_and_validate(db, path):
    row, outcome = _load(db, path)
    assert outcome == services.NEW_VERSION and row.status == DefinitionStatus.DRAFT
    assert row.source_sha256 == sha256_text(path.read_text()) and row.definition.tests
    assert (row.code, row.product) == (row.definition.code, row.definition.product)
    [event] = events(db, "qc_spec.loaded")
    assert details(event) == {"change": "created", "file": path.name, "sha256": row.source_sha256}


@pytest.mark.req("URS-QC-002")
def test_unchanged_reload_does_nothing_and_a_change_is_the_next_revision(db):
    first, _ = _load(db)
    assert _load(db) == (first, services.UNCHANGED)
    second, outcome = _load(db, text=_changed())
    assert outcome == services.NEW_REVISION and second.revision == 2
    assert count(db, SpecVersion) == 2 and len(events(db, "qc_spec.loaded")) == 2


@pytest.mark.req("URS-QC-001", "URS-QC-002")
def test_an_invalid_specification_stores_nothing(db):
    with pytest.raises(DefinitionError) as refused:
        _load(db, text=SPEC.read_text().replace("decimals: 1", "decimals: x", 1))
    assert all(p.startswith(f"{SPEC.name}:") for p in refused.value.problems)
    assert count(db, SpecVersion) == 0


@pytest.mark.req("URS-QC-002", "URS-SIG-007")
def test_lifecycle_author_separation_and_one_effective_per_code(db, make_user):
    author, qa = make_user("qa"), make_user("qa")
    first, _ = _load(db, author=make_user("qc_analyst"))
    analyst = make_user("qc_analyst")
    with pytest.raises(NotPermitted):
        services.approve(db, analyst, first, creds(analyst))
    db.rollback()
    effective(db, qa, first)
    second, _ = _load(db, author=author, text=_changed())
    with pytest.raises(RuleViolation, match="author"):
        services.approve(db, author, second, creds(author))
    db.rollback()
    effective(db, qa, second)
    assert first.status == DefinitionStatus.SUPERSEDED and second.status == DefinitionStatus.EFFECTIVE
    assert services.effective_version(db, SpecVersion, first.code) is second
    assert count(db, SpecVersion, status=DefinitionStatus.EFFECTIVE) == 1
    assert [e.entity_id for e in events(db, "qc_spec.approved")] == [str(first.id), str(second.id)]


@pytest.mark.req("URS-QC-002", "URS-DAT-001")
def test_an_effective_specification_text_cannot_be_changed_in_the_database(db, make_user):
    row = effective(db, make_user("qa"), _load(db)[0])
    with pytest.raises(sa.exc.DatabaseError):
        with db.begin_nested():
            db.execute(sa.text("UPDATE qc_spec_versions SET source_text = 'x' WHERE id = :id"), {"id": row.id})
    db.expire_all()
    assert row.source_sha256 == sha256_text(row.source_text)


# --- pages ------------------------------------------------------------------------------------


@pytest.mark.req("URS-QC-010", "URS-ACC-002")
@pytest.mark.parametrize("role,allowed", [("qc_analyst", True), ("qa", True), ("auditor", True),
                                          ("operator", False), ("supervisor", False), ("admin", False)])
def test_spec_pages_by_role(client, db, make_user, login, role, allowed):
    first, _ = _load(db)
    second, _ = _load(db, text=_changed())
    login(make_user(role))
    for url in ("/qc/", f"/qc/specs/{first.id}", f"/qc/specs/diff?from={first.id}&to={second.id}"):
        assert client.get(url).status_code == (200 if allowed else 403), url


@pytest.mark.req("URS-QC-010")
def test_the_spec_rendering_shows_every_test(client, db, make_user, login):
    row, _ = _load(db)
    login(make_user("qc_analyst"))
    page = client.get(f"/qc/specs/{row.id}").get_data(as_text=True)
    for test in row.definition.tests:
        assert all(str(escape(text)) in page for text in (test.name, test.method, test.acceptance_text))
    assert "Electronic signature" not in page


@pytest.mark.req("URS-QC-002", "URS-QC-010")
def test_qa_runs_the_spec_lifecycle_through_the_pages(client, db, make_user, login):
    row, _ = _load(db)
    qa = make_user("qa")
    login(qa)
    signed = client.post(f"/qc/specs/{row.id}/approve",
                         data={"sig_username": qa.username, "sig_password": PASSWORD, "sig_accept_policy": "y"})
    assert signed.status_code == 302
    made = client.post(f"/qc/specs/{row.id}/effective",
                       data={"effective_on": site_today().isoformat(), "effective_reason": "CC-9"})
    assert made.status_code == 302
    db.expire_all()
    assert row.status == DefinitionStatus.EFFECTIVE
    assert "Effective</span>" in client.get("/qc/").get_data(as_text=True)


@pytest.mark.req("URS-QC-002", "URS-QC-010")
def test_qc_analysts_upload_specifications(client, db, make_user, login):
    import io

    analyst = make_user("qc_analyst")
    login(analyst)
    loaded = client.post("/qc/specs/load", data={"definition_file": (io.BytesIO(SPEC.read_bytes()), SPEC.name)},
                         content_type="multipart/form-data")
    assert loaded.status_code == 302
    assert db.query(SpecVersion).one().loaded_by_id == analyst.id
