"""Forms in the admin (issue 17 item 3): versions with who published them, downloads, the diff, the
publish gate with its audited override (one rule for the API and the admin), archiving."""

from __future__ import annotations

import io

from sqlalchemy import select

from app.db import get_database
from app.models import Form
from tests.app.admin_helpers import MULTILINGUAL_FORM, csrf_token, login, post, publish
from tests.app.conftest import World
from tests.app.form_admin_helpers import MULTILINGUAL_V2, audit_rows
from tests.app.openrosa_helpers import device_token, root
from tests.data import data_bytes

FORM_URL = "/admin/projects/{pid}/forms/{fid}"


def _form(world: World, xml_form_id: str) -> Form:
    with world.app.app_context(), get_database(world.app).session_scope() as session:
        form = session.scalar(select(Form).where(Form.xml_form_id == xml_form_id))
        assert form is not None
        session.expunge(form)
        return form


def _upload(world: World, client: object, data: bytes, name: str) -> str:
    res = client.post(  # type: ignore[attr-defined]
        f"/admin/projects/{world.project_id}/forms",
        data={"csrf_token": csrf_token(client, "/admin/"), "file": (io.BytesIO(data), name)},  # type: ignore[arg-type]
        content_type="multipart/form-data",
    )
    assert res.status_code == 303, res.text[:500]
    return str(res.headers["Location"])


def test_versions_list_who_published_downloads_and_diff(world: World) -> None:
    publish(world, MULTILINGUAL_FORM)
    manager = login(world, "manager")
    url = _upload(world, manager, MULTILINGUAL_V2, "monitoreo.xml")
    assert post(manager, url + "/publish", {"version": ""}, page=url).status_code == 303
    page = manager.get(url).text
    # Newest first: version 2 by the manager, version 1 by the admin who published it in the helper.
    table = page[
        page.index('id="versions-table"') : page.index("</table>", page.index('id="versions-table"'))
    ]
    newest, oldest = table.split("<tr data-version=")[1:]
    assert newest.split("<br>")[0].endswith(">2") and oldest.split("<br>")[0].endswith(">1")
    assert 'published-by">manager<' in newest and 'published-by">manager<' not in oldest
    form = _form(world, "monitoreo")
    assert form.current_version_id is not None
    got = manager.get(f"{url}/versions/{form.current_version_id}.xml")
    assert got.status_code == 200 and got.data == MULTILINGUAL_V2
    assert "attachment" in got.headers["Content-Disposition"]
    # An XForm upload has no XLSForm to give back: a clear 400, not a 500.
    assert manager.get(f"{url}/versions/{form.current_version_id}.xlsx").status_code == 400
    # A version id of another form is not found.
    assert manager.get(f"{url}/versions/999999.xml").status_code == 404
    diff = manager.get(url + "/diff").text
    assert 'id="diff-added"' in diff and "/data/phone" in diff
    removed = diff[diff.index('id="diff-removed"') : diff.index('id="diff-changed"')]
    assert "/data/secret" in removed
    changed = diff[diff.index('id="diff-changed"') :]
    assert "Edad en años" in changed and "HTI" in changed
    # The analyst reads versions and the diff but never sees the manage buttons.
    analyst = login(world, "analyst")
    assert analyst.get(url + "/diff").status_code == 200
    assert 'id="archive-form"' not in analyst.get(url).text


def test_diff_in_english_uses_the_forms_english_labels(world: World) -> None:
    publish(world, MULTILINGUAL_FORM)
    manager = login(world, "manager")
    url = _upload(world, manager, MULTILINGUAL_V2, "monitoreo.xml")
    # The draft against the published version: the default comparison.
    post(manager, "/admin/locale", {"locale": "en", "next": url})
    diff = manager.get(url + "/diff").text
    assert "Fields added" in diff and "Phone" in diff
    post(manager, "/admin/locale", {"locale": "es", "next": url})
    diff_es = manager.get(url + "/diff").text
    assert "Campos añadidos" in diff_es and "Edad en años" in diff_es


def test_admin_publish_is_held_back_until_a_manager_gives_a_reason(world: World) -> None:
    manager = login(world, "manager")
    url = _upload(world, manager, data_bytes("forms/with_attachments.xml"), "with_attachments.xml")
    page = manager.get(url).text
    assert 'id="publish-problems"' in page and "goodtwo.mp3" in page and 'id="override-reason"' in page
    res = post(manager, url + "/publish", {"version": ""}, page=url)
    assert res.status_code == 303 and res.headers["Location"].endswith("#draft")
    form = _form(world, "withAttachments")
    assert form.current_version_id is None and form.draft_version_id is not None
    assert audit_rows(world, "form.publish") == []
    res = post(manager, url + "/publish", {"version": "", "override_reason": "  audio next week  "}, page=url)
    assert res.status_code == 303
    assert _form(world, "withAttachments").current_version_id is not None
    [override] = audit_rows(world, "form.publish_override")
    assert override["actor"] == world.user_ids["manager"]
    assert override["details"]["reason"] == "audio next week"
    missing = {p["detail"] for p in override["details"]["problems"] if p["code"] == "media_missing"}
    assert "goodtwo.mp3" in missing and "goodone.csv" in missing


def test_api_publish_gate_and_override_reason_limits(world: World) -> None:
    manager = world.headers("manager")
    res = world.client.post(
        f"/v1/projects/{world.project_id}/forms?publish=true",
        data=data_bytes("forms/with_attachments.xml"),
        content_type="application/xml",
        headers=manager,
    )
    assert res.status_code == 409 and res.json["code"] == "409.30"
    assert "overrideReason" in res.json["message"]
    res = world.client.post(
        f"/v1/projects/{world.project_id}/forms?publish=false",
        data=data_bytes("forms/with_attachments.xml"),
        content_type="application/xml",
        headers=manager,
    )
    base = f"/v1/projects/{world.project_id}/forms/{res.json['xmlFormId']}"
    too_long = world.client.post(
        f"{base}/draft/publish", query_string={"overrideReason": "x" * 1001}, headers=manager
    )
    assert too_long.status_code == 400 and too_long.json["details"]["field"] == "overrideReason"
    blank = world.client.post(
        f"{base}/draft/publish", query_string={"overrideReason": "   "}, headers=manager
    )
    assert blank.status_code == 409
    ok = world.client.post(f"{base}/draft/publish", query_string={"overrideReason": "pilot"}, headers=manager)
    assert ok.status_code == 200
    assert [r["details"]["reason"] for r in audit_rows(world, "form.publish_override")] == ["pilot"]


def test_a_complete_form_publishes_without_a_reason_and_is_not_audited_as_override(world: World) -> None:
    publish(world, MULTILINGUAL_FORM)
    assert audit_rows(world, "form.publish_override") == []
    assert len(audit_rows(world, "form.publish")) == 1


def test_archive_hides_the_form_from_devices_and_blocks_state_changes(world: World) -> None:
    publish(world, MULTILINGUAL_FORM)
    token = device_token(world)["token"]
    assert b"<formID>monitoreo</formID>" in world.client.get(f"{root(world, token)}/formList").data
    manager = login(world, "manager")
    url = FORM_URL.format(pid=world.project_id, fid="monitoreo")
    assert post(manager, url + "/archive", {"archived": "1"}, page=url).status_code == 303
    form = _form(world, "monitoreo")
    assert form.is_archived and form.state == "closed"
    assert b"<formID>monitoreo</formID>" not in world.client.get(f"{root(world, token)}/formList").data
    assert post(manager, url + "/state", {"state": "open"}, page=url).status_code == 400
    assert post(manager, url + "/archive", {"archived": "0"}, page=url).status_code == 303
    form = _form(world, "monitoreo")
    assert not form.is_archived and form.state == "closed"
    assert [r["subject"] for r in audit_rows(world, "form.archive")] == ["monitoreo"]
    assert len(audit_rows(world, "form.unarchive")) == 1
    supervisor = login(world, "supervisor")
    assert post(supervisor, url + "/archive", {"archived": "1"}, page=url).status_code == 403
