"""pyodk (ODK's official Python client) against a live Ruta: entity lists and entities through the same
calls a Central user makes, after a device created the entity with a submission."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app.conftest import World
from tests.app.entity_helpers import device, publish_xlsform, registration_xlsform, registration_xml, send
from tests.app.test_odata_clients import _pyodk_client

UUID = "0d4a3c5e-7f1b-4c2d-9e8f-1a2b3c4d5e6f"


@pytest.mark.slow
def test_pyodk_lists_creates_updates_and_deletes_entities(world: World, live: str, tmp_path: Path) -> None:
    publish_xlsform(world, registration_xlsform())
    send(world, device(world), registration_xml("reg-1", UUID, "Rumichaca", 120))
    client = _pyodk_client(world, live, tmp_path, "manager")

    # Every project also has its site registry, the list named "sites" (issue 19 item 4).
    lists = {found.name: found for found in client.entity_lists.list()}
    assert set(lists) == {"shelters", "sites"}
    listed = lists["shelters"]
    assert listed.approvalRequired is False
    shelters = client.entity_lists.get(entity_list_name="shelters")
    assert [p.name for p in shelters.properties] == ["shelter", "capacity"]

    (entity,) = client.entities.list(entity_list_name="shelters")
    assert entity.uuid == UUID and entity.currentVersion.version == 1
    assert entity.currentVersion.label == "Rumichaca (120)"

    created = client.entities.create(
        label="Huaquillas (80)", data={"shelter": "Huaquillas", "capacity": "80"}, entity_list_name="shelters"
    )
    updated = client.entities.update(
        created.uuid, entity_list_name="shelters", data={"capacity": "95"}, base_version=1
    )
    assert updated.currentVersion.version == 2 and updated.currentVersion.data["capacity"] == "95"
    assert client.entities.create_many(
        [{"label": "Tulcán (40)", "shelter": "Tulcán", "capacity": "40"}], entity_list_name="shelters"
    )
    table = client.entities.get_table(entity_list_name="shelters", count=True)
    assert table["@odata.count"] == 3
    assert {r["label"]: r["capacity"] for r in table["value"]} == {
        "Rumichaca (120)": "120",
        "Huaquillas (80)": "95",
        "Tulcán (40)": "40",
    }
    assert client.entities.delete(created.uuid, entity_list_name="shelters") is True
    assert sorted(e.uuid for e in client.entities.list(entity_list_name="shelters")) == sorted(
        [UUID, table["value"][2]["__id"]]
    )
