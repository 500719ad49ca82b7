"""Master batch record versions: loading, revisions, approval, effective dates, immutability."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from freezegun import freeze_time

from app.audit import capture as audit
from app.audit.capture import Actor
from app.common.errors import NotPermitted, RuleViolation
from app.common.timeutil import utcnow
from app.common.yamlfile import DefinitionError, sha256_text
from app.mbr import services
from app.mbr.models import TemplateStatus, TemplateVersion
from app.mbr.schema import parse_template
from app.signatures.services import signatures_of
from tests.mbr.helpers import (
    SHIPPED_SPECS,
    SHIPPED_TEMPLATES,
    SHORT,
    count,
    creds,
    details,
    effective,
    events,
    load_file,
)

CHANGED = SHORT.read_text().replace("title: Short test process", "title: Short test process, rev")
VERSION_2 = SHORT.read_text().replace("version: 1", "version: 2", 1)


@pytest.mark.req("URS-MBR-006")
@pytest.mark.parametrize("path", [*SHIPPED_TEMPLATES, SHORT], ids=lambda p: p.name)
def test_shipped_templates_load_and_validate(db, path):
    row, outcome = load_file(db, path)
    text = path.read_text()
    assert outcome == services.NEW_VERSION
    assert (row.status, row.revision, row.source_file) == (TemplateStatus.DRAFT, 1, path.name)
    assert row.source_text == text and row.source_sha256 == sha256_text(text)
    assert row.code == row.definition.code and row.definition.steps
    assert row.loaded_by_id is None and row.loaded_by_name.startswith("system:")
    [event] = events(db, "mbr.loaded")
    assert details(event)["file"] == path.name and details(event)["sha256"] == row.source_sha256


@pytest.mark.req("URS-MBR-006")
def test_two_templates_are_shipped():
    assert len(SHIPPED_TEMPLATES) >= 2, [p.name for p in SHIPPED_TEMPLATES]


@pytest.mark.req("URS-MBR-003")
def test_unchanged_reload_does_nothing(db):
    first, _ = load_file(db, SHORT)
    again, outcome = load_file(db, SHORT)
    assert outcome == services.UNCHANGED and again is first
    assert count(db, TemplateVersion) == 1
    assert len(events(db, "mbr.loaded")) == 1


@pytest.mark.req("URS-MBR-003")
def test_changed_text_makes_the_next_revision_a_draft(db, make_user):
    qa = make_user("qa")
    first, _ = load_file(db, SHORT)
    effective(db, qa, first)
    second, outcome = load_file(db, SHORT, text=CHANGED)
    assert outcome == services.NEW_REVISION
    assert (second.version, second.revision, second.status) == (1, 2, TemplateStatus.DRAFT)
    assert second.source_sha256 == sha256_text(CHANGED) != first.source_sha256
    assert first.status == TemplateStatus.EFFECTIVE and first.source_text == SHORT.read_text()
    # Going back to the text of revision 1 matches it: no third revision.
    assert load_file(db, SHORT) == (first, services.UNCHANGED)


@pytest.mark.req("URS-MBR-003")
def test_a_new_declared_version_starts_at_revision_1(db):
    load_file(db, SHORT)
    row, outcome = load_file(db, SHORT, text=VERSION_2, name="SHORT-TEST.v2.yaml")
    assert outcome == services.NEW_VERSION and (row.version, row.revision) == (2, 1)


@pytest.mark.req("URS-MBR-001")
def test_an_invalid_file_stores_nothing_and_names_file_and_line(db):
    broken = SHORT.read_text().replace("decimals: 1\n", "decimals: one\n", 1)
    with pytest.raises(DefinitionError) as refused:
        load_file(db, SHORT, text=broken)
    assert refused.value.problems
    assert all(p.startswith("SHORT-TEST.v1.yaml:") and p.split(":")[1].isdigit() for p in refused.value.problems)
    assert count(db, TemplateVersion) == 0 and events(db, "mbr.loaded") == []


@pytest.mark.req("URS-MBR-001")
def test_values_too_long_for_the_table_are_refused_with_the_line(db):
    long_title = SHORT.read_text().replace("title: Short test process", "title: " + "x" * 201, 1)
    with pytest.raises(DefinitionError, match=r"SHORT-TEST.v1.yaml:\d+: title is longer than 200"):
        load_file(db, SHORT, text=long_title)
    assert count(db, TemplateVersion) == 0


@pytest.mark.req("URS-MBR-001", "URS-MBR-003")
def test_load_directory_loads_the_valid_and_refuses_the_invalid(db, tmp_path):
    (tmp_path / "SHORT-TEST.v1.yaml").write_text(SHORT.read_text())
    (tmp_path / "BROKEN.v1.yaml").write_text("code: [unclosed\n")
    (tmp_path / "notes.txt").write_text("not a definition")
    results = services.load_directory(db, TemplateVersion, parse_template, tmp_path, None)
    assert [(r.filename.rsplit("/", 1)[-1], r.outcome) for r in results] == [
        ("BROKEN.v1.yaml", services.REFUSED), ("SHORT-TEST.v1.yaml", services.NEW_VERSION)]
    assert results[0].problems[0].startswith(f"{tmp_path / 'BROKEN.v1.yaml'}:")
    assert count(db, TemplateVersion) == 1


@pytest.mark.req("URS-MBR-004", "URS-ACC-002")
def test_only_an_active_author_role_may_load(db, make_user):
    with pytest.raises(NotPermitted):
        load_file(db, SHORT, author=make_user("operator"))
    row, _ = load_file(db, SHORT, author=make_user("supervisor", username="sup.author"))
    assert row.loaded_by_name == "Test Sup.Author (sup.author)"


# --- approval ---------------------------------------------------------------------------------


@pytest.mark.req("URS-MBR-004")
def test_qa_approves_a_draft_with_a_signature(db, make_user):
    author, qa = make_user("supervisor"), make_user("qa")
    row, _ = load_file(db, SHORT, author=author)
    services.approve(db, qa, row, creds(qa), "reviewed against the process description")
    db.commit()
    assert row.status == TemplateStatus.APPROVED and row.approved_at is not None
    [view] = signatures_of(db, row)
    assert view.valid and view.signature.meaning == "approved" and view.signature.signer_id == qa.id
    assert len(events(db, "mbr.approved")) == 1


@pytest.mark.req("URS-MBR-004", "URS-SIG-007")
def test_the_author_cannot_approve_even_as_qa(db, make_user):
    author = make_user("qa")
    row, _ = load_file(db, SHORT, author=author)
    with pytest.raises(RuleViolation, match="author"):
        services.approve(db, author, row, creds(author))
    db.rollback()
    assert row.status == TemplateStatus.DRAFT and signatures_of(db, row) == []


@pytest.mark.req("URS-MBR-004", "URS-ACC-002")
@pytest.mark.parametrize("role", ["admin", "operator", "supervisor", "qc_analyst", "auditor"])
def test_only_qa_approves(db, make_user, role):
    row, _ = load_file(db, SHORT)
    user = make_user(role)
    with pytest.raises(NotPermitted):
        services.approve(db, user, row, creds(user))
    db.rollback()
    assert row.status == TemplateStatus.DRAFT


@pytest.mark.req("URS-MBR-004", "URS-SIG-001")
def test_a_wrong_password_approves_nothing(db, make_user):
    qa = make_user("qa")
    row, _ = load_file(db, SHORT)
    with pytest.raises(RuleViolation, match="password"):
        services.approve(db, qa, row, creds(qa, "wrong-password-123"))
    db.rollback()
    assert row.status == TemplateStatus.DRAFT


@pytest.mark.req("URS-MBR-004")
def test_only_a_draft_is_approved(db, make_user):
    qa = make_user("qa")
    row, _ = load_file(db, SHORT)
    services.approve(db, qa, row, creds(qa))
    with pytest.raises(RuleViolation, match="is Approved: only Draft versions can be approved"):
        services.approve(db, qa, row, creds(qa))


# --- effective, superseded, retired -------------------------------------------------------------


@pytest.mark.req("URS-MBR-004")
def test_making_effective_supersedes_the_previous_version_in_the_same_transaction(db, make_user):
    qa = make_user("qa")
    first = effective(db, qa, load_file(db, SHORT)[0])
    assert services.effective_version(db, TemplateVersion, "SHORT-TEST") is first
    second = effective(db, qa, load_file(db, SHORT, text=CHANGED)[0])
    assert first.status == TemplateStatus.SUPERSEDED and second.status == TemplateStatus.EFFECTIVE
    assert first.superseded_at == second.effective_from
    assert count(db, TemplateVersion, code="SHORT-TEST", status=TemplateStatus.EFFECTIVE) == 1
    assert services.effective_version(db, TemplateVersion, "SHORT-TEST") is second
    changed = sorted((e.entity_id, e.reason) for e in events(db, "mbr.made_effective"))
    ids = sorted([str(first.id), str(first.id), str(second.id)])
    assert changed == [(i, "CC-2026-001") for i in ids]


@pytest.mark.req("URS-MBR-004")
def test_only_an_approved_version_becomes_effective(db, make_user):
    qa = make_user("qa")
    row, _ = load_file(db, SHORT)
    with pytest.raises(RuleViolation, match="is Draft: only Approved versions can be made effective"):
        services.make_effective(db, qa, row, None, "CC-1")


@pytest.mark.req("URS-MBR-004")
def test_making_effective_needs_qa_and_a_reason(db, make_user):
    qa, supervisor = make_user("qa"), make_user("supervisor")
    row, _ = load_file(db, SHORT)
    services.approve(db, qa, row, creds(qa))
    db.commit()
    with pytest.raises(NotPermitted):
        services.make_effective(db, supervisor, row, None, "CC-1")
    with pytest.raises(RuleViolation, match="reason"):
        services.make_effective(db, qa, row, None, "  ")
    assert row.status == TemplateStatus.APPROVED


@pytest.mark.req("URS-MBR-004")
def test_an_effective_date_in_the_past_is_refused(db, make_user):
    qa = make_user("qa")
    row, _ = load_file(db, SHORT)
    with pytest.raises(RuleViolation, match="past"):
        effective(db, qa, row, at=utcnow() - timedelta(hours=1))


@pytest.mark.req("URS-MBR-004")
def test_a_future_effective_date_takes_over_when_it_passes(db, make_user):
    qa = make_user("qa")
    first = effective(db, qa, load_file(db, SHORT)[0])
    start = utcnow() + timedelta(days=7)
    second = effective(db, qa, load_file(db, SHORT, text=CHANGED)[0], at=start)
    assert (second.status, second.effective_from) == (TemplateStatus.EFFECTIVE, start)
    # Until then the first version stays in force (and lots keep starting on it).
    assert services.effective_version(db, TemplateVersion, "SHORT-TEST") is first
    assert services.in_force(first) and not services.in_force(second)
    with freeze_time(start + timedelta(seconds=1)):
        assert services.effective_version(db, TemplateVersion, "SHORT-TEST") is second
        assert services.effective_versions(db, TemplateVersion) == [second]
    # History: which version was in force at a past moment.
    assert services.effective_version(db, TemplateVersion, "SHORT-TEST", at=start - timedelta(days=1)) is first


@pytest.mark.req("URS-MBR-004")
def test_a_new_version_cannot_take_over_before_the_scheduled_one(db, make_user):
    qa = make_user("qa")
    effective(db, qa, load_file(db, SHORT)[0], at=utcnow() + timedelta(days=7))
    later, _ = load_file(db, SHORT, text=CHANGED)
    with pytest.raises(RuleViolation, match="after that"):
        effective(db, qa, later, at=utcnow() + timedelta(days=1))


@pytest.mark.req("URS-MBR-004")
def test_retire_needs_qa_and_a_reason_and_ends_the_version(db, make_user):
    qa, supervisor = make_user("qa"), make_user("supervisor")
    row = effective(db, qa, load_file(db, SHORT)[0])
    with pytest.raises(NotPermitted):
        services.retire(db, supervisor, row, "product discontinued")
    with pytest.raises(RuleViolation, match="reason"):
        services.retire(db, qa, row, "")
    services.retire(db, qa, row, "product discontinued")
    db.commit()
    assert row.status == TemplateStatus.RETIRED and row.retired_at is not None
    assert services.effective_version(db, TemplateVersion, "SHORT-TEST") is None
    assert events(db, "mbr.retired")[0].reason == "product discontinued"
    with pytest.raises(RuleViolation, match="already Retired"):
        services.retire(db, qa, row, "again")


@pytest.mark.req("URS-MBR-004")
def test_retiring_a_scheduled_version_keeps_the_current_one_in_force(db, make_user):
    qa = make_user("qa")
    first = effective(db, qa, load_file(db, SHORT)[0])
    start = utcnow() + timedelta(days=7)
    second = effective(db, qa, load_file(db, SHORT, text=CHANGED)[0], at=start)
    assert (first.status, first.superseded_at) == (TemplateStatus.SUPERSEDED, start)
    services.retire(db, qa, second, "change cancelled before it took effect")
    db.commit()
    assert (first.status, first.superseded_at) == (TemplateStatus.EFFECTIVE, None)
    with freeze_time(start + timedelta(days=1)):
        assert services.effective_version(db, TemplateVersion, "SHORT-TEST") is first


# --- immutability -----------------------------------------------------------------------------


@pytest.mark.req("URS-MBR-005")
def test_an_effective_source_cannot_be_changed_through_the_orm(db, make_user):
    row = effective(db, make_user("qa"), load_file(db, SHORT)[0])
    with pytest.raises(sa.exc.DatabaseError, match="never change"):
        with db.begin_nested():
            with audit.action(db, "test.tamper", Actor.system("tests"), reason="tampering"):
                row.source_text = "code: TAMPERED\n"
    db.expire_all()
    assert row.source_text == SHORT.read_text() and row.status == TemplateStatus.EFFECTIVE


@pytest.mark.req("URS-MBR-005", "URS-DAT-001")
@pytest.mark.parametrize("statement", [
    "UPDATE mbr_versions SET source_text = 'x' WHERE id = :id",
    "UPDATE mbr_versions SET source_sha256 = 'x' WHERE id = :id",
    "UPDATE mbr_versions SET revision = 9 WHERE id = :id",
    "DELETE FROM mbr_versions WHERE id = :id",
])
def test_an_effective_source_cannot_be_changed_in_the_database(db, make_user, statement):
    row = effective(db, make_user("qa"), load_file(db, SHORT)[0])
    with pytest.raises(sa.exc.DatabaseError):
        with db.begin_nested():
            db.execute(sa.text(statement), {"id": row.id})
    db.expire_all()
    assert row.source_sha256 == sha256_text(SHORT.read_text()) and row.revision == 1


# --- diff -------------------------------------------------------------------------------------


@pytest.mark.req("URS-MBR-003")
def test_diff_shows_the_changed_lines(db):
    first, _ = load_file(db, SHORT)
    second, _ = load_file(db, SHORT, text=CHANGED)
    lines = services.diff(first, second)
    assert "-title: Short test process (for automated tests only)" in lines
    assert "+title: Short test process, rev (for automated tests only)" in lines
    assert lines[0].startswith("--- SHORT-TEST v1.1") and lines[1].startswith("+++ SHORT-TEST v1.2")


@pytest.mark.req("URS-MBR-003")
def test_diff_refuses_two_different_definitions(db):
    first, _ = load_file(db, SHORT)
    other, _ = load_file(db, SHORT, text=SHORT.read_text().replace("code: SHORT-TEST", "code: OTHER-TEST"),
                         name="OTHER-TEST.v1.yaml")
    with pytest.raises(RuleViolation, match="same definition"):
        services.diff(first, other)


# --- command line -----------------------------------------------------------------------------


@pytest.fixture
def cli_app(tmp_path):
    """A separate app on its own SQLite file: CLI commands commit on their own connection."""
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db as _db
    from config import TestConfig

    config = type("CliConfig", (TestConfig,), {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'cli.sqlite3'}"})
    application = create_app(config)
    yield application, upgrade
    with application.app_context():
        _db.engine.dispose()


def _stored(application):
    from app.extensions import db as _db

    with application.app_context():
        rows = _db.session.scalars(sa.select(TemplateVersion)).all()
        return [(r.code, r.revision, r.status) for r in rows]


@pytest.mark.req("URS-MBR-008", "URS-MBR-001")
def test_cli_load_prints_every_problem_and_exits_1(cli_app, tmp_path):
    application, upgrade = cli_app
    with application.app_context():
        upgrade()
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "SHORT-TEST.v1.yaml").write_text(SHORT.read_text())
    broken = SHORT.read_text().replace("decimals: 1\n", "decimals: one\n", 1).replace("type: yes_no", "type: maybe")
    (folder / "BROKEN.v1.yaml").write_text(broken.replace("code: SHORT-TEST", "code: BROKEN"))
    result = application.test_cli_runner().invoke(args=["templates", "load", str(folder)])
    assert result.exit_code == 1, result.output
    assert "REFUSED" in result.output and "new version   SHORT-TEST v1.1" in result.output
    problems = [line.strip() for line in result.output.splitlines() if "BROKEN.v1.yaml:" in line]
    assert len(problems) >= 2 and all(p.split("BROKEN.v1.yaml:")[1].split(":")[0].isdigit() for p in problems)
    assert _stored(application) == [("SHORT-TEST", 1, TemplateStatus.DRAFT)]
    again = application.test_cli_runner().invoke(args=["templates", "load", str(folder / "SHORT-TEST.v1.yaml")])
    assert again.exit_code == 0 and "unchanged" in again.output


@pytest.mark.req("URS-MBR-008")
def test_cli_load_with_an_unknown_author_is_refused(cli_app):
    application, upgrade = cli_app
    with application.app_context():
        upgrade()
    result = application.test_cli_runner().invoke(args=["templates", "load", str(SHORT), "--author", "nobody"])
    assert result.exit_code == 2 and "No user 'nobody'" in result.output
    assert _stored(application) == []


@pytest.mark.req("URS-MBR-008", "URS-DAT-006")
def test_init_and_seed_demo_twice_leave_one_effective_version_per_shipped_code(cli_app):
    from app.qc.models import SpecVersion

    application, _ = cli_app
    runner = application.test_cli_runner()
    for _ in range(2):
        for command in (["init"], ["seed-demo", "--no-lots"]):  # the demo lots have their own test
            result = runner.invoke(args=command)
            assert result.exit_code == 0, result.output
    from app.extensions import db as _db

    with application.app_context():
        for model, files in ((TemplateVersion, SHIPPED_TEMPLATES), (SpecVersion, sorted(SHIPPED_SPECS))):
            rows = _db.session.scalars(sa.select(model)).all()
            assert len(rows) == len(files)
            assert all(r.status == TemplateStatus.EFFECTIVE and r.loaded_by_id is None for r in rows)
            assert [r.code for r in services.effective_versions(_db.session, model)] == sorted(r.code for r in rows)
