"""Server-side sessions: the admin's cookie holds only a random id whose row logout deletes (a copied
cookie stops working), every app server sees the same rows, and a password change ends the person's
other sessions, bearer tokens and admin logins alike."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select, update

from app import create_app
from app.db import get_database
from app.models import ApiSession, AuditEvent
from tests.app.admin_helpers import csrf_token, login, post
from tests.app.conftest import World

COOKIE = "session"


def _cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None
    return cookie.value


def _copy(client: FlaskClient, value: str) -> FlaskClient:
    client.set_cookie(COOKIE, value)
    return client


def _logged_in(client: FlaskClient) -> bool:
    res = client.get("/admin/")
    assert res.status_code in (200, 302)
    return res.status_code == 200


def _rows(world: World, **where: Any) -> list[ApiSession]:
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        query = select(ApiSession).filter_by(**where).order_by(ApiSession.id)
        return list(s.scalars(query))


def test_the_cookie_holds_only_a_random_id_of_a_stored_session(world: World) -> None:
    client = login(world, "supervisor")
    value = _cookie(client)
    assert "." not in value and len(value) >= 43  # no signed payload: nothing but the id
    (row,) = _rows(world, kind="web")
    assert row.token_hash == hashlib.sha256(value.encode()).hexdigest()
    assert row.user_id == world.user_ids["supervisor"]
    assert row.data is not None and "csrf_token" in row.data
    assert row.expires_at > datetime.now(UTC) + timedelta(hours=23)


def test_logout_ends_the_session_for_a_copied_cookie_too(world: World) -> None:
    client = login(world, "supervisor")
    thief = _copy(world.app.test_client(), _cookie(client))
    assert _logged_in(client) and _logged_in(thief)
    assert post(client, "/admin/logout").status_code == 303
    assert not _logged_in(client)
    assert not _logged_in(thief)  # before: the copy kept working until it expired
    assert _rows(world, kind="web") == []


def test_a_new_login_starts_a_new_session(world: World) -> None:
    client = login(world, "supervisor")
    first = _cookie(client)
    res = client.post(
        "/admin/login",
        data={
            "email": world.emails["manager"],
            "password": world.passwords["manager"],
            "csrf_token": csrf_token(client, "/admin/"),
        },
    )
    assert res.status_code == 303
    assert _cookie(client) != first
    assert not _logged_in(_copy(world.app.test_client(), first))  # the earlier login ended
    assert [r.user_id for r in _rows(world, kind="web")] == [world.user_ids["manager"]]


def test_every_app_server_sees_the_same_sessions(world: World, app_config: dict[str, Any]) -> None:
    """A second app on the same database (another server behind the load balancer, with a different
    secret key even) accepts the cookie, and a logout on one ends it on the other."""
    other = create_app({**app_config, "SECRET_KEY": "another-secret"})
    try:
        client = login(world, "supervisor")
        there = _copy(other.test_client(), _cookie(client))
        assert _logged_in(there)
        assert post(there, "/admin/logout").status_code == 303
        assert not _logged_in(client)
    finally:
        get_database(other).dispose()


def test_an_expired_session_is_refused_and_its_cookie_dropped(world: World) -> None:
    client = login(world, "supervisor")
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        s.execute(update(ApiSession).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        s.commit()
    res = client.get("/admin/")
    assert res.status_code == 302
    assert client.get_cookie(COOKIE) is None


def test_the_language_choice_is_kept_in_the_session_row(world: World) -> None:
    client = login(world, "analyst")
    assert post(client, "/admin/locale", {"locale": "pt", "next": "/admin/"}).status_code == 303
    (row,) = _rows(world, kind="web")
    assert row.data is not None and row.data["locale"] == "pt"
    assert "Projetos" in client.get("/admin/").text


def test_a_password_change_ends_the_persons_other_sessions(world: World) -> None:
    who = "manager"
    asking = world.headers(who)
    other_token = world.headers(who)
    browser = login(world, who)
    bystander = world.headers("analyst")
    res = world.client.put(
        f"/v1/users/{world.user_ids[who]}/password",
        json={"old": world.passwords[who], "new": "a-new-password-2026"},
        headers=asking,
    )
    assert res.status_code == 200, res.json
    assert world.client.get("/v1/users/current", headers=asking).status_code == 200  # kept
    assert world.client.get("/v1/users/current", headers=other_token).status_code == 401
    assert not _logged_in(browser)
    assert world.client.get("/v1/users/current", headers=bystander).status_code == 200
    old = {"email": world.emails[who], "password": world.passwords[who]}
    assert world.client.post("/v1/sessions", json=old).status_code == 401
    new = {"email": world.emails[who], "password": "a-new-password-2026"}
    assert world.client.post("/v1/sessions", json=new).status_code == 200
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "user.password"))
        assert event is not None and event.details == {"sessionsEnded": 2}


def test_a_password_change_by_basic_ends_every_session(world: World) -> None:
    token = world.headers("analyst")
    res = world.client.put(
        f"/v1/users/{world.user_ids['analyst']}/password",
        json={"old": world.passwords["analyst"], "new": "another-password-9"},
        headers=world.basic("analyst"),
    )
    assert res.status_code == 200
    assert world.client.get("/v1/users/current", headers=token).status_code == 401


def test_a_password_change_needs_the_old_password_and_ones_own_account(world: World) -> None:
    headers = world.headers("manager")
    url = f"/v1/users/{world.user_ids['manager']}/password"
    res = world.client.put(
        url, json={"old": "wrong-password-0", "new": "a-new-password-2026"}, headers=headers
    )
    assert res.status_code == 401
    res = world.client.put(url, json={"old": world.passwords["manager"], "new": "short"}, headers=headers)
    assert res.status_code == 400 and "at least" in res.json["message"]
    res = world.client.put(
        f"/v1/users/{world.user_ids['analyst']}/password",
        json={"old": world.passwords["manager"], "new": "a-new-password-2026"},
        headers=world.headers("admin"),
    )
    assert res.status_code == 403
    assert world.client.get("/v1/users/current", headers=headers).status_code == 200


def test_bearer_tokens_and_admin_cookies_do_not_stand_in_for_each_other(world: World) -> None:
    client = login(world, "admin")
    value = _cookie(client)
    assert (
        world.client.get("/v1/users/current", headers={"Authorization": f"Bearer {value}"}).status_code == 401
    )
    token = world.headers("admin")["Authorization"].split()[1]
    assert not _logged_in(_copy(world.app.test_client(), token))
