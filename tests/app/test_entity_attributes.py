"""App users filtered by their attributes (issue 19): a list with ``matchAttributes`` serves an app user only
the entities whose property matches one of its values for the attribute of that name, beside
``ownerOnly``; an app user without the attribute gets nothing (fail closed)."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from typing import Any

from app.services.sites import site_uuid
from tests.app.conftest import World
from tests.app.openrosa_helpers import OR_HEADERS, device_token, root
from tests.app.test_flows import publish
from tests.app.test_sites_forms import REGISTRY, import_registry

FLOW = "ruta_flow_count"


def _set_match(world: World, names: Any) -> Any:
    return world.client.patch(
        f"/v1/projects/{world.project_id}/datasets/sites",
        json={"matchAttributes": names},
        headers=world.headers("manager"),
    )


def _sites_seen(world: World, base: str) -> tuple[list[str], str]:
    """The site codes in the device's sites.csv, and the list's hash in its manifest."""
    manifest = world.client.get(f"{base}/formList/{FLOW}/manifest", headers=OR_HEADERS)
    ns = "{http://openrosa.org/xforms/xformsManifest}"
    (media,) = [
        m
        for m in ET.fromstring(manifest.data).findall(f"{ns}mediaFile")
        if m.findtext(f"{ns}filename") == "sites.csv"
    ]
    res = world.client.get(f"{base}/formList/{FLOW}/media/sites.csv", headers=OR_HEADERS)
    assert res.status_code == 200
    codes = sorted(row["code"] for row in csv.DictReader(io.StringIO(res.data.decode())))
    return codes, media.findtext(f"{ns}hash", "")


def _integrity(world: World, base: str) -> set[str]:
    ids = ",".join(site_uuid(code) for code in ("COL-ALB", "COL-PAR", "VEN-SAN"))
    res = world.client.get(f"{base}/datasets/sites/integrity?id={ids}", headers=OR_HEADERS)
    assert res.status_code == 200
    return {e.get("id", "") for e in ET.fromstring(res.data).iter() if e.tag.endswith("entity")}


def test_app_users_see_only_the_sites_matching_their_attributes_and_none_without(world: World) -> None:
    import_registry(world)  # COL-ALB in CO54, COL-PAR in CO44, VEN-SAN in VE20
    publish(world, FLOW)
    north = device_token(world, displayName="North team", attributes={"adm1_pcode": ["CO54", "CO44"]})
    venezuela = device_token(world, displayName="Venezuela", attributes={"adm1_pcode": "VE20"})
    bare = device_token(world, displayName="No attributes")
    assert (north["attributes"], venezuela["attributes"], bare["attributes"]) == (
        {"adm1_pcode": ["CO54", "CO44"]},
        {"adm1_pcode": ["VE20"]},
        {},
    )
    a, b, c = (root(world, t["token"]) for t in (north, venezuela, bare))
    everything = ["COL-ALB", "COL-PAR", "VEN-SAN"]
    assert _sites_seen(world, c)[0] == everything  # no filter on the list yet

    res = _set_match(world, ["adm1_pcode"])
    assert res.status_code == 200 and res.json["matchAttributes"] == ["adm1_pcode"]
    assert _sites_seen(world, a)[0] == ["COL-ALB", "COL-PAR"]
    assert _sites_seen(world, b)[0] == ["VEN-SAN"]
    assert _sites_seen(world, c)[0] == []  # fail closed: no attribute, no entities
    assert _integrity(world, c) == set()
    assert _integrity(world, b) == {site_uuid("VEN-SAN")}
    # People of the project are not app users: the manager still reads the whole list.
    res = world.client.get(
        f"/v1/projects/{world.project_id}/datasets/sites/entities", headers=world.headers("manager")
    )
    assert len(res.json) == 3

    # Giving the bare device an attribute changes the list's hash, so the device fetches it again.
    before = _sites_seen(world, c)[1]
    res = world.client.patch(
        f"/v1/projects/{world.project_id}/app-users/{bare['id']}",
        json={"attributes": {"adm1_pcode": "VE20"}},
        headers=world.headers("manager"),
    )
    assert res.status_code == 200 and res.json["attributes"] == {"adm1_pcode": ["VE20"]}
    codes, after = _sites_seen(world, c)
    assert (codes, after != before) == (["VEN-SAN"], True)

    # Beside ownerOnly both rules apply: the registry's sites were imported, not created by a device.
    res = world.client.patch(
        f"/v1/projects/{world.project_id}/datasets/sites",
        json={"ownerOnly": True},
        headers=world.headers("manager"),
    )
    assert res.status_code == 200
    assert _sites_seen(world, a)[0] == []

    res = world.client.patch(
        f"/v1/projects/{world.project_id}/datasets/sites",
        json={"ownerOnly": False},
        headers=world.headers("manager"),
    )
    assert _set_match(world, []).status_code == 200  # no attribute filter: every device sees every site
    assert _sites_seen(world, c)[0] == everything


def test_attribute_settings_are_checked(world: World) -> None:
    import_registry(world, REGISTRY)
    res = _set_match(world, ["team"])
    assert res.status_code == 400 and "no property 'team'" in res.json["message"]
    assert _set_match(world, "adm1_pcode").status_code == 400
    res = world.client.post(
        f"/v1/projects/{world.project_id}/app-users",
        json={"displayName": "Phone", "attributes": {"team": 5}},
        headers=world.headers("manager"),
    )
    assert res.status_code == 400 and res.json["details"]["field"] == "attributes"
    phone = device_token(world)
    res = world.client.patch(
        f"/v1/projects/{world.project_id}/app-users/{phone['id']}",
        json={"attributes": ["north"]},
        headers=world.headers("manager"),
    )
    assert res.status_code == 400
    res = world.client.patch(
        f"/v1/projects/{world.project_id}/app-users/{phone['id']}",
        json={"attributes": {"team": "north"}},
        headers=world.headers("enumerator"),
    )
    assert res.status_code == 403
