"""Logging in: POST /v1/sessions bearer tokens (pyodk's flow), Basic auth, logout."""

from __future__ import annotations

from tests.app.conftest import World


def test_login_returns_token_that_identifies_the_user(world: World) -> None:
    res = world.client.post(
        "/v1/sessions", json={"email": world.emails["manager"], "password": world.passwords["manager"]}
    )
    assert res.status_code == 200
    body = res.json
    assert set(body) == {"token", "createdAt", "expiresAt"}
    me = world.client.get("/v1/users/current", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200
    assert me.json["email"] == world.emails["manager"]
    assert me.json["roles"] == [{"projectId": world.project_id, "role": "manager"}]


def test_wrong_password_is_refused_with_a_clear_message(world: World) -> None:
    res = world.client.post("/v1/sessions", json={"email": world.emails["manager"], "password": "nope"})
    assert res.status_code == 401
    assert res.json["code"] == "401.2"
    assert "password" in res.json["message"]


def test_unknown_email_and_wrong_password_look_the_same(world: World) -> None:
    a = world.client.post("/v1/sessions", json={"email": "nobody@example.org", "password": "x" * 12})
    b = world.client.post("/v1/sessions", json={"email": world.emails["manager"], "password": "x" * 12})
    assert a.status_code == b.status_code == 401
    assert a.json == b.json


def test_login_with_bad_json_is_a_400(world: World) -> None:
    res = world.client.post("/v1/sessions", data=b"{not json", content_type="application/json")
    assert res.status_code == 400
    assert res.json["code"] == "400.2"
    res = world.client.post("/v1/sessions", json={"email": world.emails["manager"]})
    assert res.status_code == 400
    assert "password" in res.json["message"]


def test_logout_ends_the_session(world: World) -> None:
    headers = world.headers("analyst")
    token = headers["Authorization"].split()[1]
    assert world.client.delete(f"/v1/sessions/{token}", headers=headers).status_code == 200
    res = world.client.get("/v1/users/current", headers=headers)
    assert res.status_code == 401


def test_garbage_bearer_token_is_401(world: World) -> None:
    res = world.client.get("/v1/projects", headers={"Authorization": "Bearer abc"})
    assert res.status_code == 401


def test_basic_auth_works_where_allowed(world: World) -> None:
    res = world.client.get("/v1/projects", headers=world.basic("supervisor"))
    assert res.status_code == 200
    assert [p["id"] for p in res.json] == [world.project_id]


def test_basic_auth_is_refused_over_plain_http_by_default(world: World) -> None:
    world.app.config["ALLOW_BASIC_OVER_HTTP"] = False
    res = world.client.get("/v1/projects", headers=world.basic("supervisor"))
    assert res.status_code == 401
    assert "https" in res.json["message"]
    res = world.client.get("/v1/projects", headers=world.basic("supervisor"), base_url="https://localhost")
    assert res.status_code == 200


def test_passwords_are_stored_with_argon2(world: World) -> None:
    from sqlalchemy import select

    from app.db import get_database
    from app.models import User

    with world.app.app_context(), get_database(world.app).session_scope() as session:
        stored = session.scalar(select(User.password_hash).where(User.email == world.emails["manager"]))
    assert stored is not None and stored.startswith("$argon2id$")


def test_a_user_cannot_end_someone_elses_session(world: World) -> None:
    victim = world.headers("analyst")
    token = victim["Authorization"].split()[1]
    res = world.client.delete(f"/v1/sessions/{token}", headers=world.headers("manager"))
    assert res.status_code == 404
    assert world.client.get("/v1/users/current", headers=victim).status_code == 200
