"""The admin's entity pages: lists, an entity's version history with the submissions that wrote it,
conflicts resolved by a person, held offline updates, and the CSV with the admin's login."""

from __future__ import annotations

from sqlalchemy import select

from app.db import get_database
from app.models import AuditEvent
from tests.app.admin_helpers import login, post
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


def _conflicted(world: World) -> None:
    publish_xlsform(world, registration_xlsform())
    publish_xlsform(world, update_xlsform())
    a, b = device(world, "Phone A"), device(world, "Phone B")
    send(world, a, registration_xml("reg-1", UUID, "Rumichaca", 120))
    send(world, a, update_xml("a-2", UUID, 150, base=1, trunk=1, branch="branch-a"))
    send(world, b, update_xml("b-2", UUID, 100, base=1, trunk=1, branch="branch-b"))
    send(world, b, update_xml("b-4", UUID, 70, base=3, trunk=1, branch="branch-b"))  # its step 2 never comes


def test_lists_entity_history_conflict_resolution_and_csv(world: World) -> None:
    _conflicted(world)
    supervisor = login(world, "supervisor")
    base = f"/admin/projects/{world.project_id}/entities"
    page = supervisor.get(base)
    assert page.status_code == 200
    assert 'data-list="shelters"' in page.text and "Rumichaca (120)" in page.text  # in the conflicts table
    listing = supervisor.get(f"{base}/shelters")
    assert listing.status_code == 200 and f'data-entity="{UUID}"' in listing.text
    assert "/entities/shelters/backlog" in listing.text  # one update held: it can be applied by hand

    detail = supervisor.get(f"{base}/shelters/{UUID}")
    assert detail.status_code == 200
    for version in (1, 2, 3):
        assert f'data-version="{version}"' in detail.text
    for instance in ("uuid:reg-1", "uuid:a-2", "uuid:b-2"):
        assert instance in detail.text  # each version links the submission that wrote it
    res = post(supervisor, f"{base}/shelters/{UUID}/resolve", page=f"{base}/shelters/{UUID}")
    assert res.status_code == 303
    after = supervisor.get(f"{base}/shelters/{UUID}")
    assert 'class="badge hard"' in after.text  # the version keeps its flag, now marked resolved
    assert "/resolve" not in after.text  # nothing left to resolve

    csv_res = supervisor.get(f"{base}/shelters.csv")
    assert csv_res.status_code == 200 and csv_res.mimetype == "text/csv"
    lines = csv_res.data.decode().splitlines()
    assert lines[0] == "__id,label,shelter,capacity,__createdAt,__creatorId,__updates,__updatedAt,__version"
    row = lines[1].split(",")
    assert row[:4] == [UUID, "Rumichaca (120)", "Rumichaca", "100"]
    assert (row[-3], row[-1]) == ("2", "3")  # two updates since the create: version 3
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        actions = set(s.scalars(select(AuditEvent.action)))
    assert {"entity.conflict.resolve", "entity.export", "entity.update.held"} <= actions


def test_held_updates_are_applied_on_request_and_flagged(world: World) -> None:
    _conflicted(world)
    manager = login(world, "manager")
    base = f"/admin/projects/{world.project_id}/entities/shelters"
    res = post(manager, f"{base}/backlog", page=base)
    assert res.status_code == 303
    detail = manager.get(f"{base}/{UUID}")
    assert 'data-version="4"' in detail.text and "uuid:b-4" in detail.text


def test_who_may_see_and_change_entity_pages(world: World) -> None:
    _conflicted(world)
    base = f"/admin/projects/{world.project_id}/entities"
    assert login(world, "enumerator").get(base).status_code == 403
    assert login(world, "outsider").get(f"{base}/shelters/{UUID}").status_code == 404
    analyst = login(world, "analyst")
    assert analyst.get(f"{base}/shelters/{UUID}").status_code == 200
    assert post(analyst, f"{base}/shelters/{UUID}/resolve", page=base).status_code == 403
    assert post(analyst, f"{base}/shelters/backlog", page=base).status_code == 403
    assert world.app.test_client().get(f"{base}/shelters.csv").status_code in (302, 303, 401)
