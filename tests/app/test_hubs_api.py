"""Hub credentials on the central side: issued once, stored hashed, revocable, audited, scoped to one
project; the hub-scoped form endpoints never serve anything outside that project."""

from __future__ import annotations

import hashlib
import io
from typing import Any

from sqlalchemy import select

from app.db import get_database
from app.models import AuditEvent, Hub, SubmissionVersion
from tests.app.batch_helpers import make_zip
from tests.app.conftest import World
from tests.app.openrosa_helpers import SIMPLE_FORM, instance, publish_xml
from tests.data import data_file

ORDER = ["anonymous", "outsider", "enumerator", "analyst", "supervisor", "manager", "admin"]


def _hubs(world: World) -> str:
    return f"/v1/projects/{world.project_id}/hubs"


def _issue(world: World, name: str = "Rumichaca office", project_id: int | None = None) -> dict[str, Any]:
    res = world.client.post(
        f"/v1/projects/{project_id or world.project_id}/hubs",
        json={"name": name},
        headers=world.headers("admin"),
    )
    assert res.status_code == 200, res.json
    return res.json  # type: ignore[no-any-return]


def _hub(token: str) -> dict[str, str]:
    return {"Authorization": f"Hub {token}"}


def _status(world: World, who: str, method: str, path: str, **kwargs: Any) -> int:
    headers = world.headers(who) if who != "anonymous" else {}
    return world.client.open(path, method=method, headers=headers, **kwargs).status_code


def test_manage_hubs_by_role(world: World) -> None:
    expected = {"anonymous": 401, "outsider": 404, "enumerator": 403, "analyst": 403, "supervisor": 403}
    for who in ORDER:
        want = expected.get(who, 200)
        assert _status(world, who, "GET", _hubs(world)) == want, who
        assert _status(world, who, "POST", _hubs(world), json={"name": f"hub {who}"}) == want, who
        hub_id = _issue(world)["id"]
        assert _status(world, who, "DELETE", f"{_hubs(world)}/{hub_id}") == want, who
    assert world.client.post(_hubs(world), json={}, headers=world.headers("manager")).status_code == 400
    assert world.client.delete(f"{_hubs(world)}/99999", headers=world.headers("manager")).status_code == 404


def test_credential_shown_once_stored_hashed_revocable_and_audited(world: World) -> None:
    publish_xml(world, SIMPLE_FORM)
    issued = _issue(world)
    token = issued["token"]
    listed = world.client.get(_hubs(world), headers=world.headers("manager")).json
    assert "token" not in listed[0] and listed[0]["submissions"] == 0 and listed[0]["lastSyncAt"] is None
    batch = make_zip({"a": {"a.xml": instance("uuid:via-hub")}})
    url = f"/v1/projects/{world.project_id}/submissions/batch"
    res = world.client.post(url, data=batch, content_type="application/zip", headers=_hub(token))
    assert res.status_code == 200 and res.json["counts"] == {"created": 1}
    listed = world.client.get(_hubs(world), headers=world.headers("manager")).json
    assert listed[0]["submissions"] == 1 and listed[0]["lastSyncAt"] and listed[0]["batches"] == 1
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        hub = s.get(Hub, issued["id"])
        assert hub is not None and hub.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in str(s.scalars(select(AuditEvent.details)).all())
        version = s.scalar(select(SubmissionVersion))
        assert version is not None and version.hub_id == hub.id
        actions = set(s.scalars(select(AuditEvent.action)))
        assert {"hub.create", "hub.batch"} <= actions
    res = world.client.delete(f"{_hubs(world)}/{issued['id']}", headers=world.headers("manager"))
    assert res.status_code == 200 and res.json["revokedAt"]
    refused = world.client.post(url, data=batch, content_type="application/zip", headers=_hub(token))
    assert refused.status_code == 401 and refused.json["code"] == "401.10"
    assert (
        world.client.get(f"/v1/projects/{world.project_id}/hub/forms", headers=_hub(token)).status_code == 401
    )
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        assert "hub.revoke" in set(s.scalars(select(AuditEvent.action)))


def test_hub_is_scoped_to_its_project(world: World) -> None:
    publish_xml(world, SIMPLE_FORM)
    token = _issue(world)["token"]
    other = f"/v1/projects/{world.other_project_id}"
    batch = make_zip({"a": {"a.xml": instance("uuid:elsewhere")}})
    res = world.client.post(
        f"{other}/submissions/batch", data=batch, content_type="application/zip", headers=_hub(token)
    )
    assert res.status_code == 403 and res.json["code"] == "403.10"
    assert world.client.get(f"{other}/hub/forms", headers=_hub(token)).status_code == 403
    # The hub credential opens nothing else in its own project either: not the data, not the admin API.
    own = f"/v1/projects/{world.project_id}"
    assert world.client.get(f"{own}/forms/photo/submissions", headers=_hub(token)).status_code == 401
    assert world.client.get(f"{own}/hubs", headers=_hub(token)).status_code == 401
    assert (
        world.client.get(f"{own}/hub/forms", headers={"Authorization": "Hub not-a-token"}).status_code == 401
    )


def test_hub_form_endpoints_serve_only_this_projects_published_forms(world: World) -> None:
    publish_xml(world, SIMPLE_FORM)
    token = _issue(world)["token"]
    own = f"/v1/projects/{world.project_id}"
    catalogue = world.client.get(f"{own}/hub/forms", headers=_hub(token)).json
    assert [f["xmlFormId"] for f in catalogue] == ["photo"]
    version = catalogue[0]["versions"][0]
    assert version["current"] and version["md5"] == hashlib.md5(SIMPLE_FORM).hexdigest()
    xml = world.client.get(f"{own}/hub/forms/photo/versions/{version['sha256']}.xml", headers=_hub(token))
    assert xml.status_code == 200 and xml.data == SIMPLE_FORM
    assert (
        world.client.get(f"{own}/hub/forms/photo/versions/{'0' * 64}.xml", headers=_hub(token)).status_code
        == 404
    )
    # A submission's file is in the blob store but is not form media: a hub cannot read it.
    upload = world.client.post(
        f"{own}/submissions/batch",
        data={
            "x/xml_submission_file": (io.BytesIO(instance("uuid:file")), "x.xml"),
            "x/a.jpg": (io.BytesIO(b"private photo"), "a.jpg"),
        },
        content_type="multipart/form-data",
        headers=world.headers("manager"),
    )
    assert upload.json["results"][0]["filesAdded"] == ["a.jpg"]
    secret = hashlib.sha256(b"private photo").hexdigest()
    assert world.client.get(f"{own}/hub/media/{secret}", headers=_hub(token)).status_code == 404
    # People who may read the project's forms may read the catalogue too; others may not.
    for who, want in (("enumerator", 200), ("outsider", 404), ("anonymous", 401)):
        assert _status(world, who, "GET", f"{own}/hub/forms") == want, who
        assert _status(world, who, "GET", f"{own}/hub") == want, who
        path = f"{own}/hub/forms/photo/versions/{version['sha256']}.xml"
        assert _status(world, who, "GET", path) == want, who
    # Form media: served to the hub by sha256, but only media of this project's published forms.
    media_sha = _publish_with_media(world, world.project_id, b"name\nx\n")
    assert world.client.get(f"{own}/hub/media/{media_sha}", headers=_hub(token)).data == b"name\nx\n"
    elsewhere = _publish_with_media(world, world.other_project_id, b"name\nother\n")
    assert world.client.get(f"{own}/hub/media/{elsewhere}", headers=_hub(token)).status_code == 404


def _publish_with_media(world: World, project_id: int, csv: bytes) -> str:
    data = data_file("forms/with_attachments.xml").read_bytes()
    admin = world.headers("admin")
    res = world.client.post(
        f"/v1/projects/{project_id}/forms?publish=false",
        data=data,
        content_type="application/xml",
        headers=admin,
    )
    assert res.status_code == 200, res.json
    base = f"/v1/projects/{project_id}/forms/{res.json['xmlFormId']}"
    up = world.client.post(
        f"{base}/draft/attachments/goodone.csv", data=csv, content_type="text/csv", headers=admin
    )
    assert up.status_code == 200
    published = world.client.post(f"{base}/draft/publish?version=v1&overrideReason=csv+only", headers=admin)
    assert published.status_code == 200
    return hashlib.sha256(csv).hexdigest()


def test_mirror_forms_copies_versions_media_and_state(world: World) -> None:
    """The hub-side pull, with the central project served by this app and the other project standing
    in for the hub's own: same bytes (same md5 on phones), old versions kept, media, state."""
    from app.blobs import get_blob_store
    from app.models import Form, Project
    from app.services.hubs import link as hub_link

    publish_xml(world, SIMPLE_FORM)
    v3 = SIMPLE_FORM.replace(b'version="2"', b'version="3"')
    admin = world.headers("admin")
    base = f"/v1/projects/{world.project_id}/forms/photo"
    world.client.post(f"{base}/draft", data=v3, content_type="application/xml", headers=admin)
    assert world.client.post(f"{base}/draft/publish", headers=admin).status_code == 200
    _publish_with_media(world, world.project_id, b"name\nx\n")
    assert world.client.patch(base, json={"state": "closing"}, headers=admin).status_code == 200
    token = _issue(world)["token"]
    own = f"/v1/projects/{world.project_id}"

    catalogue = world.client.get(f"{own}/hub/forms", headers=_hub(token)).json
    # Fetched up front: on SQLite the mirroring session holds the write lock the test client would need.
    xmls = {
        (f["xmlFormId"], v["sha256"]): world.client.get(
            f"{own}/hub/forms/{f['xmlFormId']}/versions/{v['sha256']}.xml", headers=_hub(token)
        ).data
        for f in catalogue
        for v in f["versions"]
    }
    media = {
        a["sha256"]: world.client.get(f"{own}/hub/media/{a['sha256']}", headers=_hub(token)).data
        for f in catalogue
        for v in f["versions"]
        for a in v["attachments"]
    }

    def fetch_xml(form_id: str, sha: str) -> bytes:
        return xmls[(form_id, sha)]

    def fetch_media(sha: str) -> bytes:
        return media[sha]

    with world.app.app_context(), get_database(world.app).session_scope() as s:
        hub_project = s.get(Project, world.other_project_id)
        assert hub_project is not None
        kwargs: dict[str, Any] = {"catalogue": catalogue, "fetch_xml": fetch_xml, "fetch_media": fetch_media}
        report = hub_link.mirror_forms(s, project=hub_project, store=get_blob_store(world.app), **kwargs)
        s.commit()
        assert sorted(report.forms_created) == ["photo", "withAttachments"]
        assert report.media_fetched == 0  # the bytes are already in this (shared) blob store
        again = hub_link.mirror_forms(s, project=hub_project, store=get_blob_store(world.app), **kwargs)
        assert again.versions_added == []
        forms = {f.xml_form_id: f for f in s.scalars(select(Form).where(Form.project_id == hub_project.id))}
        photo = forms["photo"]
        assert photo.state == "closing" and photo.current_version is not None
        assert photo.current_version.md5 == hashlib.md5(v3).hexdigest()
        media_form = forms["withAttachments"].current_version
        assert media_form is not None
        assert {a.name: a.blob_sha256 for a in media_form.attachments}["goodone.csv"] == hashlib.sha256(
            b"name\nx\n"
        ).hexdigest()
    listing = world.client.get(
        f"/v1/projects/{world.other_project_id}/forms/photo/versions", headers=admin
    ).json
    assert sorted(v["version"] for v in listing) == ["2", "3"]


def test_batch_endpoint_access_by_role(world: World) -> None:
    publish_xml(world, SIMPLE_FORM)
    allowed = {"enumerator", "supervisor", "manager", "admin"}
    for who in ORDER:
        batch = make_zip({"a": {"a.xml": instance(f"uuid:role-{who}")}})
        want = 200 if who in allowed else {"anonymous": 401, "outsider": 404}.get(who, 403)
        path = f"/v1/projects/{world.project_id}/submissions/batch"
        assert _status(world, who, "POST", path, data=batch, content_type="application/zip") == want, who
