"""Partners and the rules that compare rows (issue 21, item 3).

The likely-duplicate check compares a record only with its own organisation's records, so a flag never
names another partner's instanceID (OpenRosa and batch paths). People of no organisation fail closed
in a project shared with partners: no row, no figure, nothing collected; in a project shared with
nobody they work as before, until the project is shared.
"""

from __future__ import annotations

from typing import Any

import pytest

from app.auth.actor import Actor
from app.db import get_database
from app.models import User
from app.services import projects
from app.services.accounts import app_users
from app.services.accounts import people as accounts
from tests.app.conftest import World
from tests.app.openrosa_helpers import publish_xml, root
from tests.app.test_quality import QUALITY_FORM, _configure, _flags, _post_batch, _send, _zip, household


def _person(world: World, who: str, organisation_id: int | None, role: str) -> None:
    with world.app.app_context(), get_database(world.app).session_scope() as session:
        admin = Actor(user=session.get(User, world.user_ids["admin"]))
        world.emails[who] = f"{who}@example.org"
        world.passwords[who] = f"{who}-password-123"
        user = accounts.create_user(
            session,
            actor=admin,
            email=world.emails[who],
            password=world.passwords[who],
            realm=world.app.config["DIGEST_REALM"],
            organisation_id=organisation_id,
        )
        project = projects.get_project(session, world.project_id)
        accounts.assign_role(session, actor=admin, project=project, user=user, role=role)
        world.user_ids[who] = user.id
        session.commit()


def _partner(world: World) -> int:
    with world.app.app_context(), get_database(world.app).session_scope() as session:
        admin = Actor(user=session.get(User, world.user_ids["admin"]))
        org = projects.create_organisation(session, actor=admin, code="ORG-PB", name="Partner B").id
        session.commit()
    res = world.client.post(
        f"/v1/projects/{world.project_id}/partners",
        json={"organisationId": org},
        headers=world.headers("manager"),
    )
    assert res.status_code == 200, res.json
    return org


def _device(world: World, issuer: str) -> str:
    with world.app.app_context(), get_database(world.app).session_scope() as session:
        actor = Actor(user=session.get(User, world.user_ids[issuer]))
        project = projects.get_project(session, world.project_id)
        token = app_users.create_app_user(session, actor=actor, project=project, display_name=issuer).token
        session.commit()
    return root(world, token)


@pytest.fixture
def partnered(world: World) -> tuple[World, str, str]:
    publish_xml(world, QUALITY_FORM)
    org_b = _partner(world)
    _person(world, "b_manager", org_b, "manager")
    _configure(world, duplicateKeyFields=["doc_id"])
    return world, _device(world, "manager"), _device(world, "b_manager")


def _partner_org(world: World) -> int:
    res = world.client.get(f"/v1/projects/{world.project_id}/partners", headers=world.headers("manager"))
    return int(res.json[0]["organisationId"])


def test_the_duplicate_check_stays_within_one_organisation(partnered: tuple[World, str, str]) -> None:
    world, device_a, device_b = partnered
    _send(world, device_a, household("uuid:owner-first", doc="X-1"))
    _send(world, device_b, household("uuid:partner-first", doc="X-1"))
    _send(world, device_b, household("uuid:partner-again", doc="X-1"))
    assert "likely_duplicate" not in _flags(world, "uuid:partner-first")
    flag = _flags(world, "uuid:partner-again")["likely_duplicate"]
    assert flag["details"]["instanceId"] == "uuid:partner-first"
    assert "owner-first" not in flag["message"]
    # The batch path: a partner's person posts a batch; it is compared with B's records only.
    batch = _zip(
        {
            "one": household("uuid:batch-b-1", doc="X-1"),
            "two": household("uuid:batch-b-2", doc="Y-7"),
        }
    )
    res = _post_batch(world, batch, world.headers("b_manager"))
    assert res.json["counts"] == {"created": 2}
    assert (
        _flags(world, "uuid:batch-b-1")["likely_duplicate"]["details"]["instanceId"] == "uuid:partner-first"
    )
    _send(world, device_a, household("uuid:owner-y", doc="Y-7"))
    assert "likely_duplicate" not in _flags(world, "uuid:owner-y")  # B's Y-7 is not the owner's
    _send(world, device_a, household("uuid:owner-again", doc="X-1"))
    assert (
        _flags(world, "uuid:owner-again")["likely_duplicate"]["details"]["instanceId"] == "uuid:owner-first"
    )


def _listed(world: World, who: str) -> Any:
    return world.client.get(
        f"/v1/projects/{world.project_id}/forms/household/submissions", headers=world.headers(who)
    )


def test_people_of_no_organisation_fail_closed_once_the_project_is_shared(world: World) -> None:
    publish_xml(world, QUALITY_FORM)
    _person(world, "nobody_analyst", None, "analyst")
    _person(world, "nobody_manager", None, "manager")
    device = _device(world, "manager")
    _send(world, device, household("uuid:owner-row", doc="Q-1"))
    form = f"/v1/projects/{world.project_id}/forms/household/submissions"
    xml = household("uuid:nobody-before", doc="Q-2")
    res = world.client.post(
        form, data=xml, content_type="application/xml", headers=world.headers("nobody_manager")
    )
    assert res.status_code == 200, res.json
    # Shared with nobody: every row is the owner's, so they read them as before.
    assert len(_listed(world, "nobody_analyst").json) == 2
    _partner(world)
    # Shared: neither the owner's nor a partner's. No row, no single record, no figure.
    assert _listed(world, "nobody_analyst").json == []
    res = world.client.get(f"{form}/uuid:owner-row", headers=world.headers("nobody_analyst"))
    assert res.status_code == 404
    figures = world.client.get(
        f"/v1/projects/{world.project_id}/indicators", headers=world.headers("nobody_analyst")
    )
    assert figures.status_code == 200 and all(not v["n"] for v in figures.json["values"])
    # And they collect for nobody: refused with a reason, nothing stored, no device issued.
    xml = household("uuid:nobody-after", doc="Q-3")
    res = world.client.post(
        form, data=xml, content_type="application/xml", headers=world.headers("nobody_manager")
    )
    assert res.status_code == 403, res.json
    assert "no organisation" in res.json["message"]
    res = world.client.post(
        f"/v1/projects/{world.project_id}/app-users",
        json={"displayName": "Phone"},
        headers=world.headers("nobody_manager"),
    )
    assert res.status_code == 403, res.json
    assert len(_listed(world, "manager").json) == 2
    # Nor do they share the project further or grant rows: only the owners do.
    res = world.client.get(
        f"/v1/projects/{world.project_id}/row-grants", headers=world.headers("nobody_manager")
    )
    assert res.status_code == 403
    res = world.client.post(
        f"/v1/projects/{world.project_id}/partners",
        json={"organisationId": world.other_org_id},
        headers=world.headers("nobody_manager"),
    )
    assert res.status_code == 403


def test_a_removed_partners_people_collect_for_nobody(partnered: tuple[World, str, str]) -> None:
    world, _device_a, _device_b = partnered
    org = _partner_org(world)
    res = world.client.delete(
        f"/v1/projects/{world.project_id}/partners/{org}", headers=world.headers("manager")
    )
    assert res.status_code == 200
    form = f"/v1/projects/{world.project_id}/forms/household/submissions"
    xml = household("uuid:after-removal", doc="R-1")
    res = world.client.post(
        form, data=xml, content_type="application/xml", headers=world.headers("b_manager")
    )
    assert res.status_code == 403, res.json
    assert _listed(world, "manager").json == []
