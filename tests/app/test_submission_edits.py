"""Edits as ODK Central handles them: files an edit does not send again are carried forward by name, two
edits of one version are both kept and the later one flagged for a reviewer, the API refuses an edit of
a stale version (409), and ``/versions`` and ``currentVersion`` say which version is which."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.app.admin_helpers import login
from tests.app.conftest import World
from tests.app.openrosa_helpers import SIMPLE_FORM, device_token, instance, post_submission, publish_xml, root

ORIGINAL = "uuid:edits-0001"
PHOTO = b"\xff\xd8 the original photo"


@pytest.fixture
def base(world: World) -> str:
    publish_xml(world, SIMPLE_FORM)
    return f"/v1/projects/{world.project_id}/forms/photo/submissions"


@pytest.fixture
def device(world: World, base: str) -> str:
    return root(world, device_token(world)["token"])


def _put(world: World, base: str, xml: bytes, who: str = "manager") -> Any:
    return world.client.put(
        f"{base}/{ORIGINAL}", data=xml, content_type="application/xml", headers=world.headers(who)
    )


def _photo(world: World, base: str) -> bytes:
    res = world.client.get(f"{base}/{ORIGINAL}/attachments/a.jpg", headers=world.headers("manager"))
    assert res.status_code == 200, res.json
    return res.data


def _record(world: World, base: str) -> dict[str, Any]:
    res = world.client.get(f"{base}/{ORIGINAL}", headers=world.headers("manager"))
    assert res.status_code == 200
    return res.json  # type: ignore[no-any-return]


def test_an_api_edit_without_files_keeps_the_previous_versions_files(
    world: World, base: str, device: str
) -> None:
    assert post_submission(world, device, instance(ORIGINAL), {"a.jpg": PHOTO}).status_code == 201
    res = _put(world, base, instance("uuid:edits-0002", name="Beatriz", deprecated=ORIGINAL))
    assert res.status_code == 200, res.json
    assert res.json["currentVersion"]["instanceId"] == "uuid:edits-0002"
    assert (res.json["attachmentsExpected"], res.json["attachmentsPresent"]) == (1, 1)
    assert not any(f["code"] == "attachments_missing" for f in res.json["qualityFlags"])
    listed = world.client.get(f"{base}/{ORIGINAL}/attachments", headers=world.headers("manager")).json
    assert listed == [{"name": "a.jpg", "exists": True, "expected": True}]
    assert _photo(world, base) == PHOTO


def test_an_openrosa_edit_without_the_photo_carries_it_and_a_later_post_replaces_it(
    world: World, base: str, device: str
) -> None:
    assert post_submission(world, device, instance(ORIGINAL), {"a.jpg": PHOTO}).status_code == 201
    edit = instance("uuid:edits-0002", name="Beatriz", deprecated=ORIGINAL)
    assert post_submission(world, device, edit).status_code == 201
    assert _photo(world, base) == PHOTO
    assert _record(world, base)["attachmentsPresent"] == 1
    # Collect's next POST of the same edit brings a new photo: the edit's own file wins.
    assert post_submission(world, device, edit, {"a.jpg": b"a new photo"}).status_code == 201
    assert _photo(world, base) == b"a new photo"
    # A resend of the same bytes is nothing new.
    assert post_submission(world, device, edit, {"a.jpg": b"a new photo"}).status_code == 202
    # An edit renaming the photo does not inherit the old name's file.
    renamed = instance("uuid:edits-0003", photo="b.jpg", deprecated="uuid:edits-0002")
    assert post_submission(world, device, renamed).status_code == 201
    assert (_record(world, base)["attachmentsExpected"], _record(world, base)["attachmentsPresent"]) == (1, 0)


def test_an_edit_that_arrives_before_the_original_gets_its_files_when_the_original_arrives(
    world: World, base: str, device: str
) -> None:
    """Through a hub, the edit may come first: the files flow forward whichever order versions arrive in."""
    edit = instance("uuid:edits-0002", name="Beatriz", deprecated=ORIGINAL)
    assert post_submission(world, device, edit).status_code == 201
    assert _record(world, base)["attachmentsPresent"] == 0
    assert post_submission(world, device, instance(ORIGINAL), {"a.jpg": PHOTO}).status_code == 201
    record = _record(world, base)
    assert record["currentVersion"]["instanceId"] == "uuid:edits-0002"
    assert record["attachmentsPresent"] == 1 and _photo(world, base) == PHOTO


def test_two_edits_of_one_version_are_both_kept_and_the_later_one_is_flagged(
    world: World, base: str, device: str
) -> None:
    assert post_submission(world, device, instance(ORIGINAL)).status_code == 201
    assert post_submission(world, device, instance("uuid:edits-b", deprecated=ORIGINAL)).status_code == 201
    assert not _record(world, base)["editConflict"]
    # A second phone edited the same original: accepted (a device cannot be told to redo it) but flagged.
    assert post_submission(world, device, instance("uuid:edits-a", deprecated=ORIGINAL)).status_code == 201
    record = _record(world, base)
    assert record["editConflict"] is True
    (flag,) = [f for f in record["qualityFlags"] if f["code"] == "edit_conflict"]
    assert flag["details"]["edits"] == [
        {"instanceId": "uuid:edits-a", "deprecatedId": ORIGINAL, "earlierId": "uuid:edits-b"}
    ]
    assert "uuid:edits-a" in flag["message"]
    versions = world.client.get(f"{base}/{ORIGINAL}/versions", headers=world.headers("analyst")).json
    assert [v["instanceId"] for v in versions] == ["uuid:edits-a", "uuid:edits-b", ORIGINAL]
    assert [v["conflict"] for v in versions] == [{"earlierInstanceId": "uuid:edits-b"}, None, None]
    assert sum(v["current"] for v in versions) == 1
    # The review table filters on it, and the record's page says why in the reviewer's language.
    admin = login(world, "manager")
    table = admin.get(f"/admin/projects/{world.project_id}/forms/photo/submissions?flag=edit_conflict")
    assert table.status_code == 200 and ORIGINAL in table.text
    page = admin.get(f"/admin/submissions/{_record_id(world)}")
    assert "edición en conflicto" in page.text  # the admin's default language
    assert "que la edición uuid:edits-b ya había reemplazado" in page.text


def _record_id(world: World) -> int:
    from sqlalchemy import select

    from app.db import get_database
    from app.models import Submission

    with world.app.app_context(), get_database(world.app).session_scope() as s:
        return s.scalars(select(Submission.id).where(Submission.instance_id == ORIGINAL)).one()


def test_an_api_edit_of_a_stale_version_is_a_409_and_changes_nothing(world: World, base: str) -> None:
    assert (
        world.client.post(
            base, data=instance(ORIGINAL), content_type="application/xml", headers=world.headers("manager")
        ).status_code
        == 200
    )
    first = instance("uuid:edits-0002", name="Beatriz", deprecated=ORIGINAL)
    assert _put(world, base, first).status_code == 200
    stale = _put(world, base, instance("uuid:edits-0003", name="Carla", deprecated=ORIGINAL))
    assert stale.status_code == 409 and stale.json["code"] == "409.15"
    assert "uuid:edits-0002" in stale.json["message"]
    assert stale.json["details"] == {"deprecatedId": ORIGINAL, "currentInstanceId": "uuid:edits-0002"}
    # An edit naming a version of nothing is stale too; a lost answer's retry of the applied edit is not.
    assert _put(world, base, instance("uuid:edits-0004", deprecated="uuid:nowhere")).status_code == 409
    assert _put(world, base, first).status_code == 200
    versions = world.client.get(f"{base}/{ORIGINAL}/versions", headers=world.headers("manager")).json
    assert [v["instanceId"] for v in versions] == ["uuid:edits-0002", ORIGINAL]
    assert _record(world, base)["currentVersion"]["instanceName"] is None
    assert world.client.get(f"{base}/{ORIGINAL}.xml", headers=world.headers("manager")).data == first


def test_versions_and_current_version_follow_each_edit(world: World, base: str) -> None:
    manager = world.headers("manager")
    world.client.post(base, data=instance(ORIGINAL), content_type="application/xml", headers=manager)
    record = _record(world, base)
    assert record["currentVersion"]["instanceId"] == ORIGINAL and record["currentVersion"]["current"]
    assert _put(world, base, instance("uuid:edits-0002", deprecated=ORIGINAL)).status_code == 200
    assert _put(world, base, instance("uuid:edits-0003", deprecated="uuid:edits-0002")).status_code == 200
    listed = world.client.get(base, headers=manager).json
    assert [s["currentVersion"]["instanceId"] for s in listed] == ["uuid:edits-0003"]
    versions = world.client.get(f"{base}/{ORIGINAL}/versions", headers=manager).json
    assert [(v["instanceId"], v["current"], v["deprecatedId"]) for v in versions] == [
        ("uuid:edits-0003", True, "uuid:edits-0002"),
        ("uuid:edits-0002", False, ORIGINAL),
        (ORIGINAL, False, None),
    ]
    assert versions[0]["submitterId"] == world.user_ids["manager"] and versions[0]["createdAt"]
    # An edit's own instanceID names the record too, as for the other submission routes.
    again = world.client.get(f"{base}/uuid:edits-0002/versions", headers=manager).json
    assert again == versions
    assert (
        world.client.get(f"{base}/{ORIGINAL}/versions", headers=world.headers("enumerator")).status_code
        == 403
    )
    assert (
        world.client.get(f"{base}/{ORIGINAL}/versions", headers=world.headers("outsider")).status_code == 404
    )
    assert world.client.get(f"{base}/uuid:none/versions", headers=manager).status_code == 404
    # Each version's XML as it was sent.
    first = world.client.get(f"{base}/{ORIGINAL}/versions/{ORIGINAL}.xml", headers=manager)
    assert first.status_code == 200 and first.data == instance(ORIGINAL)
    assert world.client.get(f"{base}/{ORIGINAL}/versions/uuid:none.xml", headers=manager).status_code == 404
    outsider = world.headers("outsider")
    assert world.client.get(f"{base}/{ORIGINAL}/versions/{ORIGINAL}.xml", headers=outsider).status_code == 404


@pytest.mark.slow
def test_pyodk_edit_keeps_the_photo_and_a_stale_edit_fails(
    world: World, base: str, device: str, live: str, tmp_path: Path
) -> None:
    from pyodk.client import Client
    from pyodk.errors import PyODKError

    config = tmp_path / "pyodk.toml"
    config.write_text(
        "[central]\n"
        f'base_url = "{live}"\n'
        f'username = "{world.emails["manager"]}"\n'
        f'password = "{world.passwords["manager"]}"\n'
        f"default_project_id = {world.project_id}\n"
    )
    client = Client(config_path=config, cache_path=tmp_path / "pyodk_cache.toml")
    assert post_submission(world, device, instance(ORIGINAL), {"a.jpg": PHOTO}).status_code == 201
    edit = instance("uuid:edits-0002", name="Beatriz", deprecated=ORIGINAL).decode()
    client.submissions.edit(ORIGINAL, edit, form_id="photo", comment="Nombre corregido")
    got = client.submissions.get(ORIGINAL, form_id="photo")
    assert got.reviewState == "edited"
    assert _photo(world, base) == PHOTO
    assert _record(world, base)["currentVersion"]["instanceId"] == "uuid:edits-0002"
    stale = instance("uuid:edits-0003", name="Carla", deprecated=ORIGINAL).decode()
    with pytest.raises(PyODKError) as err:
        client.submissions.edit(ORIGINAL, stale, form_id="photo")
    assert "409" in str(err.value)
