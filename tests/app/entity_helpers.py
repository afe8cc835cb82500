"""Entity-list forms built the way form designers build them (XLSForms with an ``entities`` sheet, through
pyxform), and the submissions Collect sends for them (with the ``<entity>`` meta block)."""

from __future__ import annotations

import io
from typing import Any

import openpyxl

from tests.app.conftest import World
from tests.app.openrosa_helpers import device_token, post_submission, root

ENTITIES_NS = "http://www.opendatakit.org/xforms/entities"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def workbook(sheets: dict[str, list[list[object]]]) -> bytes:
    book = openpyxl.Workbook()
    first = book.active
    assert first is not None
    book.remove(first)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def registration_xlsform(version: str = "1") -> bytes:
    """Registers a shelter: creates an entity in ``shelters`` with two properties."""
    return workbook(
        {
            "survey": [
                ["type", "name", "label", "save_to"],
                ["text", "shelter_name", "Shelter name", "shelter"],
                ["integer", "capacity", "Capacity", "capacity"],
            ],
            "entities": [
                ["list_name", "label"],
                ["shelters", "concat(${shelter_name}, ' (', ${capacity}, ')')"],
            ],
            "settings": [["form_id", "version"], ["shelter_reg", version]],
        }
    )


def update_xlsform(version: str = "1") -> bytes:
    """Picks a shelter from the list (``select_one_from_file shelters.csv``) and updates its capacity."""
    return workbook(
        {
            "survey": [
                ["type", "name", "label", "save_to"],
                ["select_one_from_file shelters.csv", "shelter", "Shelter", ""],
                ["integer", "capacity", "New capacity", "capacity"],
            ],
            "entities": [["list_name", "entity_id"], ["shelters", "${shelter}"]],
            "settings": [["form_id", "version"], ["shelter_update", version]],
        }
    )


def publish_xlsform(world: World, data: bytes, who: str = "admin") -> dict[str, Any]:
    res = world.client.post(
        f"/v1/projects/{world.project_id}/forms?publish=true&ignoreWarnings=true",
        data=data,
        content_type=XLSX,
        headers=world.headers(who),
    )
    assert res.status_code == 200, res.json
    return res.json  # type: ignore[no-any-return]


def registration_xml(instance: str, uuid: str, name: str, capacity: int, version: str = "1") -> bytes:
    return f"""<data xmlns:entities="{ENTITIES_NS}" id="shelter_reg" version="{version}">
  <shelter_name>{name}</shelter_name><capacity>{capacity}</capacity>
  <meta><instanceID>uuid:{instance}</instanceID>
    <entity dataset="shelters" id="{uuid}" create="1"><label>{name} ({capacity})</label></entity>
  </meta>
</data>""".encode()


def update_xml(
    instance: str,
    uuid: str,
    capacity: int,
    *,
    base: int,
    trunk: int | None = None,
    branch: str | None = None,
    version: str = "1",
) -> bytes:
    offline = f' trunkVersion="{trunk or ""}" branchId="{branch or ""}"'
    return f"""<data xmlns:entities="{ENTITIES_NS}" id="shelter_update" version="{version}">
  <shelter>{uuid}</shelter><capacity>{capacity}</capacity>
  <meta><instanceID>uuid:{instance}</instanceID>
    <entity dataset="shelters" id="{uuid}" update="1" baseVersion="{base}"{offline}><label/></entity>
  </meta>
</data>""".encode()


def device(world: World, name: str = "Phone") -> str:
    """A device token's OpenRosa root (the app user may fill every form of the project)."""
    token = device_token(world, displayName=name)["token"]
    return root(world, token)


def send(world: World, base: str, xml: bytes) -> None:
    res = post_submission(world, base, xml)
    assert res.status_code == 201, res.data
