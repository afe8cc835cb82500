"""Who may do what with one entity list: every per-list endpoint walked as each role, anonymous and
an outsider (another organisation), like tests/app/test_access.py walks the rest of the API."""

from __future__ import annotations

from typing import Any

import pytest

from tests.app.conftest import World
from tests.app.test_access import MANAGERS, ORDER, READERS

REVIEWERS = MANAGERS | {"supervisor"}
LIST = "/v1/projects/{pid}/datasets/shelters"


def _new_entity(world: World) -> str:
    res = world.client.post(
        LIST.format(pid=world.project_id) + "/entities",
        json={"label": "Rumichaca", "data": {"capacity": "120"}},
        headers=world.headers("admin"),
    )
    assert res.status_code == 200, res.json
    return str(res.json["uuid"])


@pytest.fixture
def shelters(world: World) -> None:
    admin = world.headers("admin")
    res = world.client.post(
        f"/v1/projects/{world.project_id}/datasets", json={"name": "shelters"}, headers=admin
    )
    assert res.status_code == 200, res.json
    res = world.client.post(
        LIST.format(pid=world.project_id) + "/properties", json={"name": "capacity"}, headers=admin
    )
    assert res.status_code == 200, res.json


# (method, suffix under the list, who may, body, whether each caller needs an entity of its own)
WALK: list[tuple[str, str, set[str], dict[str, Any] | None, bool]] = [
    ("GET", "", READERS, None, False),
    ("PATCH", "", MANAGERS, {"approvalRequired": False}, False),
    ("POST", "/properties", MANAGERS, {"name": "status"}, False),
    ("GET", "/entities", READERS, None, False),
    ("GET", "/entities.csv", READERS, None, False),
    ("POST", "/entities", REVIEWERS, {"label": "Huaquillas", "data": {"capacity": "80"}}, False),
    ("GET", "/entities/{uuid}", READERS, None, True),
    ("GET", "/entities/{uuid}/versions", READERS, None, True),
    ("PATCH", "/entities/{uuid}?baseVersion=1", REVIEWERS, {"data": {"capacity": "90"}}, True),
    ("DELETE", "/entities/{uuid}", REVIEWERS, None, True),
    ("GET", ".svc", READERS, None, False),
    ("GET", ".svc/$metadata", READERS, None, False),
    ("GET", ".svc/Entities", READERS, None, False),
]


@pytest.mark.parametrize(
    ("method", "suffix", "allowed", "body", "own"), WALK, ids=[f"{w[0]} {w[1]}" for w in WALK]
)
def test_entity_list_endpoint_access_by_role(
    world: World,
    shelters: None,
    method: str,
    suffix: str,
    allowed: set[str],
    body: dict[str, Any] | None,
    own: bool,
) -> None:
    shared = _new_entity(world)
    for who in ORDER:
        uuid = _new_entity(world) if own else shared
        path = (LIST + suffix).format(pid=world.project_id, uuid=uuid)
        headers = world.headers(who) if who != "anonymous" else {}
        res = world.client.open(path, method=method, headers=headers, json=body)
        if who == "anonymous":
            expected = {401}
        elif who in allowed:
            expected = {200}
        elif who == "outsider":
            expected = {404}
        else:
            expected = {403}
        assert res.status_code in expected, (who, path, res.status_code, res.get_json())


def test_restore_and_resolve_are_for_reviewers(world: World, shelters: None) -> None:
    for who in ORDER:
        uuid = _new_entity(world)
        base = LIST.format(pid=world.project_id) + f"/entities/{uuid}"
        world.client.delete(base, headers=world.headers("admin"))
        headers = world.headers(who) if who != "anonymous" else {}
        restored = world.client.post(f"{base}/restore", headers=headers)
        resolved = world.client.post(f"{base}/resolve", headers=headers)
        if who == "anonymous":
            assert (restored.status_code, resolved.status_code) == (401, 401)
        elif who in REVIEWERS:
            # Allowed: restored; resolving an entity with no conflict is a plain 400, not a permission error.
            assert restored.status_code == 200, restored.json
            assert resolved.status_code == 400 and "no conflict" in resolved.json["message"]
        elif who == "outsider":
            assert (restored.status_code, resolved.status_code) == (404, 404)
        else:
            assert (restored.status_code, resolved.status_code) == (403, 403)


def test_app_users_cannot_use_the_entity_api(world: World, shelters: None) -> None:
    from tests.app.openrosa_helpers import device_token

    token = device_token(world)["token"]
    res = world.client.get(
        LIST.format(pid=world.project_id) + "/entities", headers={"Authorization": f"Bearer {token}"}
    )
    assert res.status_code in (401, 403)
