"""Submissions through the JSON API: create from XML, list, get, edit, review, comments, attachments."""

from __future__ import annotations

import pytest

from tests.app.conftest import World
from tests.app.openrosa_helpers import SIMPLE_FORM, device_token, instance, post_submission, publish_xml, root

UUID = "uuid:aaaaaaaa-0000-0000-0000-000000000001"


@pytest.fixture
def base(world: World) -> str:
    publish_xml(world, SIMPLE_FORM)
    return f"/v1/projects/{world.project_id}/forms/photo/submissions"


def test_create_list_get_and_raw_xml(world: World, base: str) -> None:
    xml = instance(UUID)
    res = world.client.post(
        base, data=xml, content_type="application/xml", headers=world.headers("enumerator")
    )
    assert res.status_code == 200, res.json
    assert res.json["instanceId"] == UUID and res.json["reviewState"] is None
    # The enumerator sends but does not read others' data.
    assert world.client.get(base, headers=world.headers("enumerator")).status_code == 403
    listed = world.client.get(base, headers=world.headers("analyst")).json
    assert [s["instanceId"] for s in listed] == [UUID]
    got = world.client.get(f"{base}/{UUID}", headers=world.headers("analyst"))
    assert got.json["attachmentsExpected"] == 1 and got.json["attachmentsPresent"] == 0
    assert world.client.get(f"{base}/{UUID}.xml", headers=world.headers("analyst")).data == xml
    assert world.client.get(base, headers=world.headers("outsider")).status_code == 404
    assert world.client.get(f"{base}/{UUID}", headers=world.headers("outsider")).status_code == 404


def test_malformed_xml_is_a_400_with_reason(world: World, base: str) -> None:
    res = world.client.post(
        base, data=b"<data", content_type="application/xml", headers=world.headers("manager")
    )
    assert res.status_code == 400 and res.json["code"] == "400.9"


def test_edit_with_put_makes_a_new_current_version(world: World, base: str) -> None:
    manager = world.headers("manager")
    world.client.post(base, data=instance(UUID), content_type="application/xml", headers=manager)
    edit = instance("uuid:edit", name="Beatriz", deprecated=UUID)
    assert (
        world.client.put(
            f"{base}/{UUID}",
            data=instance("uuid:x", name="no dep"),
            content_type="application/xml",
            headers=manager,
        ).status_code
        == 400
    )
    res = world.client.put(f"{base}/{UUID}", data=edit, content_type="application/xml", headers=manager)
    assert res.status_code == 200 and res.json["reviewState"] == "edited"
    assert world.client.get(f"{base}/{UUID}.xml", headers=manager).data == edit
    assert (
        world.client.put(
            f"{base}/{UUID}", data=edit, content_type="application/xml", headers=world.headers("analyst")
        ).status_code
        == 403
    )


def test_review_states_and_comments(world: World, base: str) -> None:
    world.client.post(
        base, data=instance(UUID), content_type="application/xml", headers=world.headers("manager")
    )
    for who in ("analyst", "enumerator"):
        res = world.client.patch(
            f"{base}/{UUID}", json={"reviewState": "approved"}, headers=world.headers(who)
        )
        assert res.status_code == 403, who
    res = world.client.patch(
        f"{base}/{UUID}",
        json={"reviewState": "approved", "comment": "Bien"},
        headers=world.headers("supervisor"),
    )
    assert res.status_code == 200 and res.json["reviewState"] == "approved"
    assert (
        world.client.patch(
            f"{base}/{UUID}", json={"reviewState": "lost"}, headers=world.headers("supervisor")
        ).status_code
        == 400
    )
    world.client.post(
        f"{base}/{UUID}/comments", json={"body": "Revisar edad"}, headers=world.headers("supervisor")
    )
    assert (
        world.client.post(
            f"{base}/{UUID}/comments", json={"body": "x"}, headers=world.headers("analyst")
        ).status_code
        == 403
    )
    comments = world.client.get(f"{base}/{UUID}/comments", headers=world.headers("analyst")).json
    assert [c["body"] for c in comments] == ["Bien", "Revisar edad"]


def test_attachments_listed_uploaded_and_downloaded_safely(world: World, base: str) -> None:
    device = root(world, device_token(world)["token"])
    assert post_submission(world, device, instance(UUID), incomplete=True).status_code == 201
    supervisor = world.headers("supervisor")
    listed = world.client.get(f"{base}/{UUID}/attachments", headers=supervisor).json
    assert listed == [{"name": "a.jpg", "exists": False, "expected": True}]
    assert (
        world.client.post(f"{base}/{UUID}/attachments/other.jpg", data=b"x", headers=supervisor).status_code
        == 404
    )
    assert (
        world.client.post(
            f"{base}/{UUID}/attachments/a.jpg", data=b"jpeg!", headers=world.headers("analyst")
        ).status_code
        == 403
    )
    assert (
        world.client.post(f"{base}/{UUID}/attachments/a.jpg", data=b"jpeg!", headers=supervisor).status_code
        == 200
    )
    got = world.client.get(f"{base}/{UUID}/attachments/a.jpg", headers=world.headers("analyst"))
    assert got.data == b"jpeg!"
    assert got.headers["Content-Disposition"].startswith("attachment")
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert world.client.get(f"{base}/{UUID}", headers=supervisor).json["attachmentsPresent"] == 1
