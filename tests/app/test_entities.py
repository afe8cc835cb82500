"""ODK entities (issue 19 items 1-2): lists created and updated by submissions, served to devices."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from sqlalchemy import select

from app.db import get_database
from app.models import AuditEvent
from forms import xlsform
from forms.entities import read_form_entities
from sync.openrosa import XFORMS_MANIFEST_NS as MANIFEST_NS
from tests.app.conftest import World
from tests.app.entity_helpers import (
    device,
    publish_xlsform,
    registration_xlsform,
    registration_xml,
    send,
    update_xlsform,
    update_xml,
)
from tests.app.openrosa_helpers import OR_HEADERS, SIMPLE_FORM, instance, publish_xml

UUID = "0d4a3c5e-7f1b-4c2d-9e8f-1a2b3c4d5e6f"


def _entities(world: World, who: str = "manager", name: str = "shelters") -> list[dict[str, Any]]:
    res = world.client.get(
        f"/v1/projects/{world.project_id}/datasets/{name}/entities", headers=world.headers(who)
    )
    assert res.status_code == 200, res.json
    return res.json  # type: ignore[no-any-return]


def test_pyxform_converts_an_entities_sheet_into_the_declarations_ruta_reads() -> None:
    reg = read_form_entities(xlsform.convert(registration_xlsform()).xform)
    assert reg is not None and reg.spec_version == "2024.1.0"
    (declaration,) = reg.declarations
    assert declaration.dataset == "shelters"
    assert dict(declaration.properties) == {"shelter": ("shelter_name",), "capacity": ("capacity",)}
    upd = read_form_entities(xlsform.convert(update_xlsform()).xform)
    assert upd is not None and upd.datasets == ("shelters",)
    assert dict(upd.declarations[0].properties) == {"capacity": ("capacity",)}


def test_a_submission_over_openrosa_creates_then_another_updates_an_entity(world: World) -> None:
    publish_xlsform(world, registration_xlsform())
    publish_xlsform(world, update_xlsform())
    phone = device(world)
    send(world, phone, registration_xml("reg-1", UUID, "Rumichaca", 120))
    (entity,) = _entities(world)
    assert entity["uuid"] == UUID and entity["currentVersion"]["version"] == 1
    assert entity["currentVersion"]["label"] == "Rumichaca (120)"
    assert entity["currentVersion"]["data"] == {"shelter": "Rumichaca", "capacity": "120"}
    send(world, phone, update_xml("upd-1", UUID, 150, base=1))
    (entity,) = _entities(world)
    assert entity["currentVersion"]["version"] == 2
    assert entity["currentVersion"]["data"] == {"shelter": "Rumichaca", "capacity": "150"}
    assert entity["currentVersion"]["label"] == "Rumichaca (120)"  # the update form sets no label
    assert entity["conflict"] is None


def _manifest(world: World, base: str, form_id: str = "shelter_update") -> ET.Element:
    res = world.client.get(f"{base}/formList/{form_id}/manifest", headers=OR_HEADERS)
    assert res.status_code == 200, res.data
    return ET.fromstring(res.data)


def _list_file(manifest: ET.Element) -> tuple[str, str, str, str | None]:
    (media,) = manifest.findall(f"{{{MANIFEST_NS}}}mediaFile")
    return (
        media.findtext(f"{{{MANIFEST_NS}}}filename") or "",
        media.findtext(f"{{{MANIFEST_NS}}}hash") or "",
        media.findtext(f"{{{MANIFEST_NS}}}downloadUrl") or "",
        media.get("type"),
    )


def test_follow_up_form_gets_the_list_as_csv_whose_hash_changes_with_the_list_and_only_then(
    world: World,
) -> None:
    publish_xlsform(world, registration_xlsform())
    publish_xlsform(world, update_xlsform())
    phone = device(world)
    manifest = _manifest(world, phone)
    name, first_hash, url, kind = _list_file(manifest)
    assert (name, kind) == ("shelters.csv", "entityList")
    (media,) = manifest.findall(f"{{{MANIFEST_NS}}}mediaFile")
    assert media.findtext(f"{{{MANIFEST_NS}}}integrityUrl", "").endswith(
        f"/projects/{world.project_id}/datasets/shelters/integrity"
    )
    empty = world.client.get(url.replace("http://localhost", ""), headers=OR_HEADERS)
    assert empty.status_code == 200 and empty.data == b"name,label,__version,shelter,capacity\n"

    send(world, phone, registration_xml("reg-1", UUID, "Rumichaca", 120))
    _, after_create, _, _ = _list_file(_manifest(world, phone))
    assert after_create != first_hash
    # Reading the list, the manifest or the form again changes nothing, so the hash stays.
    res = world.client.get(url.replace("http://localhost", ""), headers=OR_HEADERS)
    assert (
        res.data
        == f"name,label,__version,shelter,capacity\n{UUID},Rumichaca (120),1,Rumichaca,120\n".encode()
    )
    assert res.headers["ETag"] == f'"{after_create.removeprefix("md5:")}"'
    assert _list_file(_manifest(world, phone))[1] == after_create
    # A submission to an unrelated form does not change the list.
    publish_xml(world, SIMPLE_FORM)
    send(world, phone, instance("uuid:unrelated-1", photo=""))
    assert _list_file(_manifest(world, phone))[1] == after_create
    # An unchanged list costs a 304; a changed one is sent again with its new tag.
    again = world.client.get(
        url.replace("http://localhost", ""), headers={**OR_HEADERS, "If-None-Match": res.headers["ETag"]}
    )
    assert again.status_code == 304 and again.data == b""
    send(world, phone, update_xml("upd-1", UUID, 150, base=1))
    _, after_update, _, _ = _list_file(_manifest(world, phone))
    assert after_update not in (first_hash, after_create)
    changed = world.client.get(
        url.replace("http://localhost", ""), headers={**OR_HEADERS, "If-None-Match": res.headers["ETag"]}
    )
    assert changed.status_code == 200 and b",2,Rumichaca,150\n" in changed.data


def test_integrity_endpoint_tells_collect_which_entities_were_deleted(world: World) -> None:
    publish_xlsform(world, registration_xlsform())
    phone = device(world)
    other = "11111111-2222-4333-8444-555555555555"
    send(world, phone, registration_xml("reg-1", UUID, "Rumichaca", 120))
    send(world, phone, registration_xml("reg-2", other, "Huaquillas", 80))
    res = world.client.delete(
        f"/v1/projects/{world.project_id}/datasets/shelters/entities/{other}",
        headers=world.headers("manager"),
    )
    assert res.status_code == 200, res.json
    res = world.client.get(
        f"{phone}/datasets/shelters/integrity?id={UUID},{other},not-an-entity", headers=OR_HEADERS
    )
    assert res.status_code == 200
    states = {e.get("id"): e.findtext("deleted") for e in ET.fromstring(res.data).iter("entity")}
    assert states == {UUID: "false", other: "true"}
    # The deleted entity is gone from the list devices download.
    csv_body = world.client.get(f"{phone}/formList/shelter_reg/manifest", headers=OR_HEADERS)
    assert csv_body.status_code == 200


def _versions(world: World, uuid: str = UUID) -> list[dict[str, Any]]:
    res = world.client.get(
        f"/v1/projects/{world.project_id}/datasets/shelters/entities/{uuid}/versions",
        headers=world.headers("manager"),
    )
    assert res.status_code == 200, res.json
    return res.json  # type: ignore[no-any-return]


def test_two_devices_update_base_1_offline_arriving_out_of_order_every_version_kept_conflict_flagged(
    world: World,
) -> None:
    """Device A changes capacity once (its version 2, base 1); device B changes it twice (its versions 2
    and 3, bases 1 and 2) on its own branch. B's second change arrives first, then A's, then B's first."""
    publish_xlsform(world, registration_xlsform())
    publish_xlsform(world, update_xlsform())
    a, b = device(world, "Phone A"), device(world, "Phone B")
    send(world, a, registration_xml("reg-1", UUID, "Rumichaca", 120))
    branch_a, branch_b = "aaaaaaaa-0000-4000-8000-000000000001", "bbbbbbbb-0000-4000-8000-000000000002"
    send(world, b, update_xml("b-3", UUID, 90, base=2, trunk=1, branch=branch_b))
    # Held: B's first step has not arrived, so nothing is applied yet, but nothing is lost either.
    assert [v["version"] for v in _versions(world)] == [1]
    send(world, a, update_xml("a-2", UUID, 150, base=1, trunk=1, branch=branch_a))
    send(world, b, update_xml("b-2", UUID, 100, base=1, trunk=1, branch=branch_b))
    versions = _versions(world)
    assert [(v["version"], v["baseVersion"], v["data"]["capacity"], v["conflict"]) for v in versions] == [
        (1, None, "120", None),
        (2, 1, "150", None),  # A's, on the current version: clean
        (3, 1, "100", "hard"),  # B's first step, on base 1 while the server had 2: same property changed
        (4, 3, "90", None),  # B's second step, released from the backlog on top of its first
    ]
    assert [v["source"]["submission"] for v in versions] == [
        "uuid:reg-1",
        "uuid:a-2",
        "uuid:b-2",
        "uuid:b-3",
    ]
    (entity,) = _entities(world)
    assert entity["conflict"] == "hard" and entity["currentVersion"]["data"]["capacity"] == "90"
    # A person resolves it: the flag goes, every version stays.
    res = world.client.post(
        f"/v1/projects/{world.project_id}/datasets/shelters/entities/{UUID}/resolve",
        headers=world.headers("supervisor"),
    )
    assert res.status_code == 200 and res.json["conflict"] is None
    assert [v["resolved"] for v in _versions(world)] == [False, False, True, False]
    assert len(_versions(world)) == 4


def test_concurrent_updates_on_different_properties_are_a_soft_conflict(world: World) -> None:
    publish_xlsform(world, registration_xlsform())
    publish_xlsform(world, update_xlsform())
    phone = device(world)
    send(world, phone, registration_xml("reg-1", UUID, "Rumichaca", 120))
    manager = world.headers("manager")
    base = f"/v1/projects/{world.project_id}/datasets/shelters/entities/{UUID}"
    res = world.client.patch(
        f"{base}?baseVersion=1", json={"data": {"shelter": "Rumichaca II"}}, headers=manager
    )
    assert res.status_code == 200, res.json
    send(world, phone, update_xml("upd-1", UUID, 150, base=1))
    (entity,) = _entities(world)
    assert entity["conflict"] == "soft"
    assert entity["currentVersion"]["data"] == {"shelter": "Rumichaca II", "capacity": "150"}
    # The API refuses a stale base version outright (nothing written), unlike an offline device.
    stale = world.client.patch(f"{base}?baseVersion=1", json={"data": {"capacity": "1"}}, headers=manager)
    assert stale.status_code == 409 and stale.json["code"] == "409.41"
    assert len(_versions(world)) == 3


def test_lists_that_require_approval_change_only_when_the_submission_is_approved(world: World) -> None:
    publish_xlsform(world, registration_xlsform())
    manager = world.headers("manager")
    res = world.client.patch(
        f"/v1/projects/{world.project_id}/datasets/shelters", json={"approvalRequired": True}, headers=manager
    )
    assert res.status_code == 200 and res.json["approvalRequired"] is True
    send(world, device(world), registration_xml("reg-1", UUID, "Rumichaca", 120))
    assert _entities(world) == []
    review = world.client.patch(
        f"/v1/projects/{world.project_id}/forms/shelter_reg/submissions/uuid:reg-1",
        json={"reviewState": "approved"},
        headers=world.headers("supervisor"),
    )
    assert review.status_code == 200, review.json
    assert [e["uuid"] for e in _entities(world)] == [UUID]
    for state in ("hasIssues", "approved"):  # approved again: written once
        world.client.patch(
            f"/v1/projects/{world.project_id}/forms/shelter_reg/submissions/uuid:reg-1",
            json={"reviewState": state},
            headers=world.headers("supervisor"),
        )
    assert len(_versions(world)) == 1


def test_owner_only_lists_give_each_app_user_only_its_own_entities(world: World) -> None:
    publish_xlsform(world, registration_xlsform())
    publish_xlsform(world, update_xlsform())
    world.client.patch(
        f"/v1/projects/{world.project_id}/datasets/shelters",
        json={"ownerOnly": True},
        headers=world.headers("manager"),
    )
    a, b = device(world, "Phone A"), device(world, "Phone B")
    other = "11111111-2222-4333-8444-555555555555"
    send(world, a, registration_xml("reg-1", UUID, "Rumichaca", 120))
    send(world, b, registration_xml("reg-2", other, "Huaquillas", 80))
    for base, mine, theirs in ((a, UUID, other), (b, other, UUID)):
        _name, _hash, url, _kind = _list_file(_manifest(world, base))
        body = world.client.get(url.replace("http://localhost", ""), headers=OR_HEADERS).data.decode()
        assert mine in body and theirs not in body
        res = world.client.get(f"{base}/datasets/shelters/integrity?id={UUID},{other}", headers=OR_HEADERS)
        assert [e.get("id") for e in ET.fromstring(res.data).iter("entity")] == [mine]
    # People with a role see them all; another organisation sees nothing.
    assert len(_entities(world, "analyst")) == 2
    res = world.client.get(
        f"/v1/projects/{world.project_id}/datasets/shelters/entities", headers=world.headers("outsider")
    )
    assert res.status_code == 404
    res = world.client.get(
        f"/v1/projects/{world.project_id}/datasets/shelters/entities", headers=world.headers("enumerator")
    )
    assert res.status_code == 403


def test_odata_feed_of_a_list_pages_counts_and_selects(world: World) -> None:
    publish_xlsform(world, registration_xlsform())
    world.app.config["ODATA_PAGE_SIZE"] = 2
    phone = device(world)
    uuids = [f"00000000-0000-4000-8000-00000000000{i}" for i in range(5)]
    for i, uuid in enumerate(uuids):
        send(world, phone, registration_xml(f"reg-{i}", uuid, f"Shelter {i}", 10 * i))
    svc = f"/v1/projects/{world.project_id}/datasets/shelters.svc"
    analyst = world.headers("analyst")
    assert world.client.get(svc, headers=analyst).json["value"][0]["name"] == "Entities"
    meta = world.client.get(f"{svc}/$metadata", headers=analyst)
    assert meta.status_code == 200 and b'<Property Name="capacity" Type="Edm.String"/>' in meta.data
    first = world.client.get(f"{svc}/Entities?$count=true", headers=analyst).json
    assert first["@odata.count"] == 5 and [r["__id"] for r in first["value"]] == uuids[:2]
    assert first["value"][0]["capacity"] == "0"
    assert first["value"][1] | {"__system": None} == {
        "__id": uuids[1],
        "label": "Shelter 1 (10)",
        "__system": None,
        "shelter": "Shelter 1",
        "capacity": "10",
    }
    seen = [r["__id"] for r in first["value"]]
    link = first["@odata.nextLink"]
    while link:
        page = world.client.get(link.replace("http://localhost", ""), headers=analyst).json
        seen += [r["__id"] for r in page["value"]]
        link = page.get("@odata.nextLink")
    assert seen == uuids
    top = world.client.get(f"{svc}/Entities?$top=3&$skip=1&$select=__id,capacity", headers=analyst).json
    assert [r for r in top["value"]] == [
        {"__id": uuids[1], "capacity": "10"},
        {"__id": uuids[2], "capacity": "20"},
    ]
    assert "$top=1" in top["@odata.nextLink"] and "$skip=3" in top["@odata.nextLink"]
    bad = world.client.get(f"{svc}/Entities?$filter=label eq 'x'", headers=analyst)
    assert bad.status_code == 501
    assert world.client.get(f"{svc}/Entities", headers=world.headers("outsider")).status_code == 404


def test_a_batch_creates_entities_in_bulk_and_applies_the_rest_one_by_one(world: World) -> None:
    from tests.app.batch_helpers import make_zip

    publish_xlsform(world, registration_xlsform())
    publish_xlsform(world, update_xlsform())
    other = "11111111-2222-4333-8444-555555555555"
    held = "22222222-3333-4444-8555-666666666666"
    phone = device(world)
    # An offline update that arrived before the entity it updates: held until the batch creates it.
    send(world, phone, update_xml("early", held, 5, base=1, trunk=1, branch="b1"))
    items = {
        "r1": registration_xml("b-r1", UUID, "Rumichaca", 120),
        "r2": registration_xml("b-r2", other, "Huaquillas", 80),
        "r3": registration_xml("b-r3", held, "Tulcán", 40),
        "dup": registration_xml("b-dup", other, "Huaquillas again", 1),  # the same id twice
        "u1": update_xml("b-u1", UUID, 150, base=1),
    }
    body = make_zip({key: {f"{key}.xml": xml} for key, xml in items.items()})
    res = world.client.post(
        f"/v1/projects/{world.project_id}/submissions/batch",
        data=body,
        content_type="application/zip",
        headers=world.headers("manager"),
    )
    assert res.status_code == 200 and set(res.json["counts"]) == {"created"}, res.json
    by_uuid = {e["uuid"]: e["currentVersion"] for e in _entities(world)}
    assert set(by_uuid) == {UUID, other, held}
    assert (by_uuid[UUID]["version"], by_uuid[UUID]["data"]["capacity"]) == (2, "150")
    assert (by_uuid[held]["version"], by_uuid[held]["data"]["capacity"]) == (2, "5")
    # The second create of the same id is not applied (one entity), and says why in the audit log.
    assert (by_uuid[other]["version"], by_uuid[other]["label"]) == (1, "Huaquillas (80)")
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        errors = [e.details for e in s.scalars(select(AuditEvent).where(AuditEvent.action == "entity.error"))]
    assert len(errors) == 1 and "already exists" in errors[0]["message"]


def test_an_unusable_entity_block_is_recorded_and_the_submission_still_stored(world: World) -> None:
    publish_xlsform(world, registration_xlsform())
    publish_xlsform(world, update_xlsform())
    phone = device(world)
    send(world, phone, registration_xml("reg-1", UUID, "Rumichaca", 120))
    too_long = update_xml("upd-long", UUID, 150, base=1, trunk=1, branch="b" * 65)
    send(world, phone, too_long)  # stored (201): the device's data is never refused for its entity block
    unknown = update_xml("upd-unknown", "99999999-0000-4000-8000-000000000000", 1, base=1)
    send(world, phone, unknown)
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        messages = [
            e.details["message"]
            for e in s.scalars(select(AuditEvent).where(AuditEvent.action == "entity.error"))
        ]
    assert len(messages) == 2
    assert "branchId" in messages[0] and "at most 64" in messages[0]
    assert "does not exist" in messages[1]
    (entity,) = _entities(world)
    assert entity["currentVersion"]["version"] == 1
    bad = world.client.post(
        f"/v1/projects/{world.project_id}/datasets/shelters/entities",
        json={"label": "x", "data": {"capacity": "a\u0000b"}},
        headers=world.headers("manager"),
    )
    assert bad.status_code == 400


def test_updates_that_arrive_before_the_create_wait_for_it_and_none_is_lost(world: World) -> None:
    publish_xlsform(world, registration_xlsform())
    publish_xlsform(world, update_xlsform())
    a, b = device(world, "Phone A"), device(world, "Phone B")
    send(world, a, update_xml("a-2", UUID, 150, base=1, trunk=1, branch="branch-a"))
    send(world, b, update_xml("b-2", UUID, 90, base=1, trunk=1, branch="branch-b"))
    assert _entities(world) == []
    send(world, a, registration_xml("reg-1", UUID, "Rumichaca", 120))
    versions = _versions(world)
    assert [(v["version"], v["data"]["capacity"], v["conflict"]) for v in versions] == [
        (1, "120", None),
        (2, "150", None),
        (3, "90", "hard"),
    ]


def test_a_new_property_or_owner_only_setting_changes_the_lists_hash(world: World) -> None:
    publish_xlsform(world, registration_xlsform())
    publish_xlsform(world, update_xlsform())
    phone = device(world)
    first = _list_file(_manifest(world, phone))[1]
    manager = world.headers("manager")
    res = world.client.post(
        f"/v1/projects/{world.project_id}/datasets/shelters/properties",
        json={"name": "status"},
        headers=manager,
    )
    assert res.status_code == 200
    second = _list_file(_manifest(world, phone))[1]
    assert second != first
    res = world.client.patch(
        f"/v1/projects/{world.project_id}/datasets/shelters", json={"ownerOnly": True}, headers=manager
    )
    assert res.status_code == 200
    third = _list_file(_manifest(world, phone))[1]
    assert third not in (first, second)
    # Setting it to what it already is changes nothing.
    world.client.patch(
        f"/v1/projects/{world.project_id}/datasets/shelters", json={"ownerOnly": True}, headers=manager
    )
    assert _list_file(_manifest(world, phone))[1] == third
