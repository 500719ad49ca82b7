"""Master batch record pages: who sees them, the rendering, QA's actions, upload and diff."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest

from app.common.timeutil import format_site, site_today, utcnow
from app.mbr.models import TemplateStatus, TemplateVersion
from tests.conftest import PASSWORD
from tests.mbr.helpers import SHORT, count, effective, load_file

READERS = ["supervisor", "qa", "operator", "auditor"]
OTHERS = ["qc_analyst", "admin"]


def _sign(username, **extra):
    return {"sig_username": username, "sig_password": PASSWORD, "sig_accept_policy": "y", **extra}


def _upload(client, text, name="SHORT-TEST.v1.yaml"):
    return client.post("/mbr/load", data={"definition_file": (io.BytesIO(text.encode()), name)},
                       content_type="multipart/form-data")


@pytest.mark.req("URS-MBR-007")
@pytest.mark.parametrize("role", READERS)
def test_readers_see_the_list_the_rendering_and_the_diff(client, db, make_user, login, role):
    first, _ = load_file(db, SHORT)
    second, _ = load_file(db, SHORT, text=SHORT.read_text().replace("min: 0\n", "min: 1\n", 1))
    login(make_user(role))
    listing = client.get("/mbr/")
    assert listing.status_code == 200 and "SHORT-TEST" in listing.get_data(as_text=True)
    assert "v1.2" in listing.get_data(as_text=True) and "Draft" in listing.get_data(as_text=True)
    assert client.get(f"/mbr/{first.id}").status_code == 200
    assert client.get(f"/mbr/diff?from={first.id}&to={second.id}").status_code == 200


@pytest.mark.req("URS-MBR-007", "URS-ACC-002")
@pytest.mark.parametrize("role", OTHERS)
def test_other_roles_are_refused(client, db, make_user, login, role):
    row, _ = load_file(db, SHORT)
    login(make_user(role))
    for url in ("/mbr/", f"/mbr/{row.id}", f"/mbr/diff?from={row.id}&to={row.id}"):
        assert client.get(url).status_code == 403


@pytest.mark.req("URS-ACC-001")
def test_anonymous_is_sent_to_login(client, db):
    assert client.get("/mbr/").status_code == 302


@pytest.mark.req("URS-MBR-002", "URS-MBR-007")
def test_the_rendering_shows_procedure_inputs_limits_holds_sampling_and_bom(client, db, make_user, login):
    row, _ = load_file(db, SHORT)
    login(make_user("operator"))
    page = client.get(f"/mbr/{row.id}").get_data(as_text=True)
    for expected in ("Test basal medium", "Biosafety cabinet class II", "Viable cells at harvest",
                     "Unit procedure <code>UP1</code>: Preparation", "Operation <code>OP1</code>: Set-up",
                     "Confirm the room and biosafety cabinet are clear of other lots.",
                     "critical: performed + verified", "Alert ≥ 85.0 %", "Action ≥ 80.0 %", "Range 0 – 100 %",
                     "Action if Turbid", "Duration 10 – 30 min", "Hold window: complete ≤ 60 min after",
                     "Sample <code>STER</code> for QC", "BOM <code>MEDIUM-A</code>", row.source_sha256):
        assert expected in page, expected
    # Read-only roles get no QA actions.
    assert "Electronic signature" not in page and "Make effective" not in page


@pytest.mark.req("URS-MBR-004", "URS-MBR-007")
def test_qa_approves_makes_effective_and_retires_through_the_pages(client, db, make_user, login):
    row, _ = load_file(db, SHORT)
    qa = make_user("qa")
    login(qa)
    assert "Electronic signature" in client.get(f"/mbr/{row.id}").get_data(as_text=True)
    assert client.post(f"/mbr/{row.id}/approve", data=_sign(qa.username)).status_code == 302
    db.expire_all()
    assert row.status == TemplateStatus.APPROVED
    page = client.get(f"/mbr/{row.id}").get_data(as_text=True)
    assert "Approved</span>" in page and qa.full_name in page and "Make effective" in page
    today = site_today().isoformat()
    done = client.post(f"/mbr/{row.id}/effective", data={"effective_on": today, "effective_reason": "CC-7"})
    assert done.status_code == 302
    db.expire_all()
    assert row.status == TemplateStatus.EFFECTIVE
    assert client.post(f"/mbr/{row.id}/retire", data={"retire_reason": ""}).status_code == 400
    assert client.post(f"/mbr/{row.id}/retire", data={"retire_reason": "withdrawn"}).status_code == 302
    db.expire_all()
    assert row.status == TemplateStatus.RETIRED


@pytest.mark.req("URS-MBR-004")
def test_a_past_effective_date_is_refused_on_the_page(client, db, make_user, login):
    qa = make_user("qa")
    row, _ = load_file(db, SHORT)
    login(qa)
    client.post(f"/mbr/{row.id}/approve", data=_sign(qa.username))
    yesterday = (site_today() - timedelta(days=1)).isoformat()
    refused = client.post(f"/mbr/{row.id}/effective", data={"effective_on": yesterday, "effective_reason": "CC"})
    assert refused.status_code == 400 and "in the past" in refused.get_data(as_text=True)
    db.expire_all()
    assert row.status == TemplateStatus.APPROVED


@pytest.mark.req("URS-SIG-001")
def test_a_blank_password_signs_nothing(client, db, make_user, login):
    qa = make_user("qa")
    row, _ = load_file(db, SHORT)
    login(qa)
    refused = client.post(f"/mbr/{row.id}/approve", data=_sign(qa.username, sig_password=""))
    assert refused.status_code == 400 and "password" in refused.get_data(as_text=True)
    db.expire_all()
    assert row.status == TemplateStatus.DRAFT


@pytest.mark.req("URS-MBR-007", "URS-ACC-002")
@pytest.mark.parametrize("role", ["supervisor", "operator", "auditor", "admin"])
def test_only_qa_may_post_lifecycle_actions(client, db, make_user, login, role):
    row, _ = load_file(db, SHORT)
    user = make_user(role)
    login(user)
    assert client.post(f"/mbr/{row.id}/approve", data=_sign(user.username)).status_code == 403
    assert client.post(f"/mbr/{row.id}/retire", data={"retire_reason": "x"}).status_code == 403
    db.expire_all()
    assert row.status == TemplateStatus.DRAFT


@pytest.mark.req("URS-MBR-004", "URS-SIG-007")
def test_an_uploading_qa_user_is_the_author_and_cannot_approve(client, db, make_user, login):
    author = make_user("qa")
    login(author)
    loaded = _upload(client, SHORT.read_text())
    assert loaded.status_code == 302
    row = db.query(TemplateVersion).one()
    assert row.loaded_by_id == author.id
    page = client.get(f"/mbr/{row.id}").get_data(as_text=True)
    assert "another QA user must approve it" in page
    refused = client.post(f"/mbr/{row.id}/approve", data=_sign(author.username))
    assert refused.status_code == 409 and "author of a version cannot approve" in refused.get_data(as_text=True)
    db.expire_all()
    assert row.status == TemplateStatus.DRAFT


@pytest.mark.req("URS-MBR-001")
def test_an_invalid_upload_lists_the_problems_and_stores_nothing(client, db, make_user, login):
    login(make_user("supervisor"))
    refused = _upload(client, SHORT.read_text().replace("decimals: 1\n", "decimals: one\n", 1))
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "refused; nothing was stored" in page
    assert "SHORT-TEST.v1.yaml:" in page and "whole number" in page
    assert count(db, TemplateVersion) == 0


@pytest.mark.req("URS-ACC-002")
def test_operators_cannot_upload(client, db, make_user, login):
    login(make_user("operator"))
    assert _upload(client, SHORT.read_text()).status_code == 403
    assert count(db, TemplateVersion) == 0


@pytest.mark.req("URS-MBR-003", "URS-MBR-007")
def test_the_diff_highlights_added_and_removed_lines(client, db, make_user, login):
    qa = make_user("qa")
    first = effective(db, qa, load_file(db, SHORT)[0])
    second, _ = load_file(db, SHORT, text=SHORT.read_text().replace("max_minutes: 60", "max_minutes: 90"))
    login(make_user("auditor"))
    page = client.get(f"/mbr/diff?from={first.id}&to={second.id}").get_data(as_text=True)
    assert '<del class="diff-del">-              - {after: UP1.OP1.S2, max_minutes: 60}</del>' in page
    assert '<ins class="diff-add">+              - {after: UP1.OP1.S2, max_minutes: 90}</ins>' in page
    assert client.get(f"/mbr/diff?from={first.id}").status_code == 400


@pytest.mark.req("URS-MBR-007", "URS-MBR-004")
def test_the_list_shows_a_scheduled_version_and_the_one_in_force_until_then(client, db, make_user, login):
    qa = make_user("qa")
    effective(db, qa, load_file(db, SHORT)[0])
    changed = SHORT.read_text().replace("max_minutes: 60", "max_minutes: 90")
    start = utcnow() + timedelta(days=7)
    effective(db, qa, load_file(db, SHORT, text=changed)[0], at=start)
    login(make_user("supervisor"))
    page = client.get("/mbr/").get_data(as_text=True)
    day = format_site(start, with_seconds=False)
    assert f"Effective from {day}" in page and f"In force until {day}" in page
