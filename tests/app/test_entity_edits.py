"""An edited submission re-applies its entity changes (issue 19), as Central does: the entity the record
created or updated gets the edited values as a new version, and a change someone else made in between is
flagged as a conflict, never overwritten silently."""

from __future__ import annotations

from typing import Any

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

UUID = "5b0e7d52-3f7c-4a51-9d0c-7c1b8e2f4a10"


def edited(xml: bytes, old: str, new: str) -> bytes:
    """The same submission edited on the device: a new instanceID naming the one it replaces."""
    return xml.replace(
        f"<instanceID>uuid:{old}</instanceID>".encode(),
        (f"<instanceID>uuid:{new}</instanceID><deprecatedID>uuid:{old}</deprecatedID>").encode(),
    )


def _versions(world: World) -> list[tuple[int, int | None, str, str, str | None]]:
    res = world.client.get(
        f"/v1/projects/{world.project_id}/datasets/shelters/entities/{UUID}/versions",
        headers=world.headers("manager"),
    )
    assert res.status_code == 200, res.json
    return [
        (v["version"], v["baseVersion"], v["label"], v["data"]["capacity"], v["conflict"]) for v in res.json
    ]


def _entity(world: World) -> dict[str, Any]:
    res = world.client.get(
        f"/v1/projects/{world.project_id}/datasets/shelters/entities/{UUID}", headers=world.headers("manager")
    )
    assert res.status_code == 200, res.json
    return res.json  # type: ignore[no-any-return]


def test_editing_the_creating_submission_updates_the_entity_as_a_new_version(world: World) -> None:
    publish_xlsform(world, registration_xlsform())
    phone = device(world)
    send(world, phone, registration_xml("reg-1", UUID, "Rumichaca", 120))
    send(world, phone, edited(registration_xml("reg-1", UUID, "Rumichaca Norte", 130), "reg-1", "reg-1b"))
    assert _versions(world) == [
        (1, None, "Rumichaca (120)", "120", None),
        (2, 1, "Rumichaca Norte (130)", "130", None),
    ]
    entity = _entity(world)
    assert (entity["currentVersion"]["data"], entity["conflict"]) == (
        {"shelter": "Rumichaca Norte", "capacity": "130"},
        None,
    )
    # The device's list changes with it (a new version is a change of the served list).
    assert entity["currentVersion"]["label"] == "Rumichaca Norte (130)"


def test_editing_an_update_after_another_device_changed_the_entity_flags_a_conflict(world: World) -> None:
    publish_xlsform(world, registration_xlsform())
    publish_xlsform(world, update_xlsform())
    a, b = device(world, "Phone A"), device(world, "Phone B")
    send(world, a, registration_xml("reg-1", UUID, "Rumichaca", 120))
    send(world, a, update_xml("upd-a", UUID, 150, base=1))  # version 2
    send(world, b, update_xml("upd-b", UUID, 90, base=2))  # version 3, from another device
    # A corrects its update: applied from the version A wrote (2), so B's capacity is not lost unseen.
    send(world, a, edited(update_xml("upd-a", UUID, 155, base=1), "upd-a", "upd-a2"))
    assert _versions(world) == [
        (1, None, "Rumichaca (120)", "120", None),
        (2, 1, "Rumichaca (120)", "150", None),
        (3, 2, "Rumichaca (120)", "90", None),
        (4, 2, "Rumichaca (120)", "155", "hard"),
    ]
    assert _entity(world)["conflict"] == "hard"


def test_editing_the_latest_update_needs_no_review(world: World) -> None:
    publish_xlsform(world, registration_xlsform())
    publish_xlsform(world, update_xlsform())
    phone = device(world)
    send(world, phone, registration_xml("reg-1", UUID, "Rumichaca", 120))
    send(world, phone, update_xml("upd-1", UUID, 150, base=1))
    send(world, phone, edited(update_xml("upd-1", UUID, 160, base=1), "upd-1", "upd-1b"))
    send(world, phone, edited(update_xml("upd-1b", UUID, 165, base=1), "upd-1b", "upd-1c"))
    assert [v[1:] for v in _versions(world)] == [
        (None, "Rumichaca (120)", "120", None),
        (1, "Rumichaca (120)", "150", None),
        (2, "Rumichaca (120)", "160", None),
        (3, "Rumichaca (120)", "165", None),
    ]
    assert _entity(world)["conflict"] is None
