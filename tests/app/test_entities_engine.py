"""ODK's own web-form engine (@getodk/xforms-engine, run in Node by tests/clients) fills the registration
form pyxform made from an ``entities`` sheet, and posts what it produces: the ``<entity>`` meta block the
engine writes is what creates the entity in Ruta."""

from __future__ import annotations

import pytest

from tests.app.conftest import World
from tests.app.entity_helpers import publish_xlsform, registration_xlsform, update_xlsform
from tests.app.openrosa_helpers import device_token
from tests.clients.engine import submit_via_server


@pytest.mark.slow
def test_xforms_engine_fills_an_entity_form_and_the_entity_appears(world: World, live: str) -> None:
    publish_xlsform(world, registration_xlsform())
    token = device_token(world)["token"]
    result = submit_via_server(
        f"{live}/v1/key/{token}/projects/{world.project_id}",
        "shelter_reg",
        {"shelter_name": "Rumichaca", "capacity": "120"},
    )
    assert result["httpStatus"] == 201, result
    assert "<entity " in result["xml"] and 'dataset="shelters"' in result["xml"], result["xml"]
    res = world.client.get(
        f"/v1/projects/{world.project_id}/datasets/shelters/entities", headers=world.headers("manager")
    )
    (entity,) = res.json
    assert entity["currentVersion"]["label"] == "Rumichaca (120)"
    assert entity["currentVersion"]["data"] == {"shelter": "Rumichaca", "capacity": "120"}

    # The follow-up form reads the list from its manifest (the CSV attachment), offers the shelter as a
    # choice, and sends an update whose baseVersion the engine took from the list's __version column.
    publish_xlsform(world, update_xlsform())
    result = submit_via_server(
        f"{live}/v1/key/{token}/projects/{world.project_id}",
        "shelter_update",
        {"shelter": entity["uuid"], "capacity": "150"},
    )
    assert result["httpStatus"] == 201, result
    assert 'baseVersion="1"' in result["xml"] and 'update="1"' in result["xml"], result["xml"]
    (entity,) = world.client.get(
        f"/v1/projects/{world.project_id}/datasets/shelters/entities", headers=world.headers("manager")
    ).json
    assert (entity["currentVersion"]["version"], entity["conflict"]) == (2, None)
    assert entity["currentVersion"]["data"] == {"shelter": "Rumichaca", "capacity": "150"}
