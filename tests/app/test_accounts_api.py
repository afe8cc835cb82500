"""Organisations, users, role assignments and app users through the API."""

from __future__ import annotations

from sqlalchemy import select

from app.db import get_database
from app.models import AppUser, AuditEvent
from tests.app.conftest import World
from tests.data import data_file


def test_users_list_is_limited_to_ones_organisation(world: World) -> None:
    emails = {u["email"] for u in world.client.get("/v1/users", headers=world.headers("manager")).json}
    assert world.emails["outsider"] not in emails and world.emails["analyst"] in emails
    everyone = {u["email"] for u in world.client.get("/v1/users", headers=world.headers("admin")).json}
    assert world.emails["outsider"] in everyone


def test_organisations_list_is_limited_to_ones_own(world: World) -> None:
    codes = [o["code"] for o in world.client.get("/v1/organisations", headers=world.headers("outsider")).json]
    assert codes == ["ORG-B"]


def test_manager_assigns_and_removes_roles_within_the_organisation(world: World) -> None:
    headers = world.headers("manager")
    base = f"/v1/projects/{world.project_id}/assignments"
    res = world.client.post(f"{base}/supervisor/{world.user_ids['analyst']}", headers=headers)
    assert res.status_code == 200
    roles = {a["actorId"]: a["role"] for a in world.client.get(base, headers=headers).json}
    assert roles[world.user_ids["analyst"]] == "supervisor"
    # A person of another organisation cannot be given a role here (and is not even visible).
    assert (
        world.client.post(f"{base}/analyst/{world.user_ids['outsider']}", headers=headers).status_code == 404
    )
    assert world.client.post(f"{base}/wizard/{world.user_ids['analyst']}", headers=headers).status_code == 400
    assert (
        world.client.post(
            f"{base}/analyst/{world.user_ids['enumerator']}", headers=world.headers("supervisor")
        ).status_code
        == 403
    )
    assert (
        world.client.delete(f"{base}/supervisor/{world.user_ids['analyst']}", headers=headers).status_code
        == 200
    )
    assert (
        world.client.get(f"/v1/projects/{world.project_id}", headers=world.headers("analyst")).status_code
        == 404
    )


def test_app_user_token_is_shown_once_and_stored_hashed(world: World) -> None:
    headers = world.headers("supervisor")
    res = world.client.post(
        f"/v1/projects/{world.project_id}/app-users", json={"displayName": "Phone 1"}, headers=headers
    )
    assert res.status_code == 200
    token = res.json["token"]
    assert token and len(token) >= 43
    listed = world.client.get(f"/v1/projects/{world.project_id}/app-users", headers=headers).json
    assert all(a["token"] is None for a in listed)
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        stored = s.scalar(select(AppUser.token_hash).where(AppUser.id == res.json["id"]))
    assert stored and token not in stored and len(stored) == 64


def test_app_user_revocation_and_form_scoping(world: World) -> None:
    admin = world.headers("admin")
    xml = data_file("forms/simple.xml").read_bytes()
    assert (
        world.client.post(
            f"/v1/projects/{world.project_id}/forms?publish=true",
            data=xml,
            content_type="application/xml",
            headers=admin,
        ).status_code
        == 200
    )
    created = world.client.post(
        f"/v1/projects/{world.project_id}/app-users",
        json={"displayName": "Scoped", "forms": []},
        headers=admin,
    ).json
    assert created["allForms"] is False
    url = f"/v1/projects/{world.project_id}/forms/simple/assignments/app-user/{created['id']}"
    assert world.client.post(url, headers=world.headers("analyst")).status_code == 403
    assert world.client.post(url, headers=world.headers("manager")).status_code == 200
    missing = world.client.post(
        f"/v1/projects/{world.project_id}/app-users",
        json={"displayName": "Bad", "forms": ["nope"]},
        headers=admin,
    )
    assert missing.status_code == 400
    res = world.client.delete(f"/v1/projects/{world.project_id}/app-users/{created['id']}", headers=admin)
    assert res.status_code == 200
    listed = world.client.get(f"/v1/projects/{world.project_id}/app-users", headers=admin).json
    assert next(a for a in listed if a["id"] == created["id"])["revokedAt"]
    # Another project's app user is not reachable through this project.
    assert (
        world.client.delete(
            f"/v1/projects/{world.other_project_id}/app-users/{created['id']}", headers=admin
        ).status_code
        == 404
    )


def test_project_update_validates_countries(world: World) -> None:
    headers = world.headers("manager")
    res = world.client.patch(
        f"/v1/projects/{world.project_id}", json={"countries": ["Ecuador"]}, headers=headers
    )
    assert res.status_code == 400 and "ISO" in res.json["message"]
    res = world.client.patch(
        f"/v1/projects/{world.project_id}", json={"countries": ["ECU", "PER"]}, headers=headers
    )
    assert res.status_code == 200 and res.json["countries"] == ["ECU", "PER"]
    assert (
        world.client.patch(
            f"/v1/projects/{world.project_id}", json={"organisationId": 2}, headers=headers
        ).status_code
        == 400
    )


def test_every_write_is_audited_with_its_actor(world: World) -> None:
    headers = world.headers("manager")
    world.client.patch(f"/v1/projects/{world.project_id}", json={"description": "x"}, headers=headers)
    world.client.post(
        f"/v1/projects/{world.project_id}/app-users", json={"displayName": "P"}, headers=headers
    )
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        rows = s.execute(
            select(AuditEvent.action, AuditEvent.actor_user_id).where(
                AuditEvent.actor_user_id == world.user_ids["manager"]
            )
        ).all()
    actions = {a for a, _ in rows}
    assert {"project.update", "app_user.create", "user.session.start"} <= actions


def test_creating_a_duplicate_user_is_a_409(world: World) -> None:
    res = world.client.post(
        "/v1/users",
        json={"email": world.emails["analyst"], "password": "long enough pw"},
        headers=world.headers("admin"),
    )
    assert res.status_code == 409
    res = world.client.post(
        "/v1/users", json={"email": "x@example.org", "password": "short"}, headers=world.headers("admin")
    )
    assert res.status_code == 400 and "characters" in res.json["message"]


def test_openapi_document_lists_the_api(client) -> None:  # type: ignore[no-untyped-def]
    doc = client.get("/v1/openapi.json").json
    assert doc["openapi"].startswith("3.")
    assert "/v1/projects/{project_id}/forms" in doc["paths"]


def test_removing_a_role_the_user_does_not_have_is_a_404(world: World) -> None:
    base = f"/v1/projects/{world.project_id}/assignments"
    res = world.client.delete(f"{base}/manager/{world.user_ids['analyst']}", headers=world.headers("manager"))
    assert res.status_code == 404
    assert (
        world.client.get(f"/v1/projects/{world.project_id}", headers=world.headers("analyst")).status_code
        == 200
    )


def _admin_of(world: World, org_id: int | None, email: str) -> dict[str, str]:
    from app.services.accounts import people as accounts

    with world.app.app_context(), get_database(world.app).session_scope() as s:
        accounts.create_user(
            s,
            actor=None,
            email=email,
            password="org-admin-password-123",
            realm=world.app.config["DIGEST_REALM"],
            organisation_id=org_id,
            is_admin=True,
        )
        s.commit()
    res = world.client.post("/v1/sessions", json={"email": email, "password": "org-admin-password-123"})
    return {"Authorization": f"Bearer {res.json['token']}"}


def test_a_project_with_only_a_name_goes_to_the_callers_organisation(world: World) -> None:
    """pyodk and Central's scripts send ``{"name"}`` alone: fine when the caller's organisation is clear."""
    headers = _admin_of(world, world.other_org_id, "admin-b@example.org")
    res = world.client.post("/v1/projects", json={"name": "Desaguadero"}, headers=headers)
    assert res.status_code == 200, res.json
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        from app.models import Project

        assert s.get(Project, res.json["id"]).organisation_id == world.other_org_id  # type: ignore[union-attr]
    # Naming an organisation still wins over the caller's own.
    res = world.client.post(
        "/v1/projects", json={"name": "Aguas Verdes", "organisationId": world.org_id}, headers=headers
    )
    assert res.status_code == 200


def test_a_project_with_only_a_name_is_refused_when_the_organisation_is_ambiguous(world: World) -> None:
    # The world's administrator belongs to no organisation and the server has two.
    res = world.client.post("/v1/projects", json={"name": "Huaquillas"}, headers=world.headers("admin"))
    assert res.status_code == 400
    assert "organisationId" in res.json["message"] and res.json["details"] == {"field": "organisationId"}
    res = world.client.post(
        "/v1/projects", json={"name": "Huaquillas", "organisationId": "1"}, headers=world.headers("admin")
    )
    assert res.status_code == 400
    listed = world.client.get("/v1/projects", headers=world.headers("admin")).json
    assert "Huaquillas" not in {p["name"] for p in listed}
