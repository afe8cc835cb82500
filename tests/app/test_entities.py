"""ODK entities (issue 19 items 1-2): lists created and updated by submissions, served to devices."""

from __future__ import annotations

from typing import Any

from forms import xlsform
from forms.entities import read_form_entities
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
