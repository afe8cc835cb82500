"""Login limits: every password login (admin form, POST /v1/sessions, Basic on the API, Digest and Basic
on device endpoints) counts wrong passwords per client address in one shared place, the database or
Redis, and refuses the address with a 429 and Retry-After once the configured number is reached.
Two real server processes sharing the count: test_two_servers.py."""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app import create_app
from app.db import get_database
from app.models import LoginFailure
from app.services.accounts.login_limits import Limit, client_key, parse_limits, retry_after
from tests.app.admin_helpers import csrf_token
from tests.app.conftest import World
from tests.app.openrosa_helpers import OR_HEADERS

WRONG = "not-the-password-1"


def _basic(email: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{email}:{password}".encode()).decode()}


def test_limits_are_parsed_from_the_setting() -> None:
    assert parse_limits("10 per minute;50 per hour") == (Limit(10, 60), Limit(50, 3600))
    assert parse_limits("3/second, 5 per 10 minutes") == (Limit(3, 1), Limit(5, 600))
    with pytest.raises(ValueError, match="fortnight"):
        parse_limits("3 per fortnight")


def test_retry_after_is_when_enough_failures_leave_the_window() -> None:
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    limits = (Limit(3, 60),)
    failures = [now - timedelta(seconds=s) for s in (50, 20, 10)]
    assert retry_after(limits, failures[1:], now) is None
    assert retry_after(limits, failures, now) == 10  # the one 50 s ago leaves in 10 s
    assert retry_after(limits, [now - timedelta(seconds=61), *failures[1:]], now) is None


def test_an_ipv6_client_is_counted_by_its_network() -> None:
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert client_key("192.0.2.7") == "192.0.2.7"


@pytest.fixture
def limited(world: World) -> World:
    world.app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    return world


def _failures(app: Flask) -> int:
    with app.app_context(), get_database(app).session_scope() as s:
        return int(s.scalar(select(func.count()).select_from(LoginFailure)) or 0)


def test_api_sessions_are_refused_after_the_limit(limited: World) -> None:
    world = limited
    email = world.emails["manager"]
    statuses = [
        world.client.post("/v1/sessions", json={"email": email, "password": WRONG}).status_code
        for _ in range(4)
    ]
    assert statuses == [401, 401, 401, 429]
    res = world.client.post("/v1/sessions", json={"email": email, "password": world.passwords["manager"]})
    assert res.status_code == 429  # even the right password: a refused address learns nothing
    assert res.json["code"] == "429.1" and "Wait" in res.json["message"]
    assert 1 <= int(res.headers["Retry-After"]) <= 60
    assert _failures(world.app) == 3  # refused attempts are not checked, so not counted
    # Another address is not affected.
    other = world.client.post(
        "/v1/sessions",
        json={"email": email, "password": world.passwords["manager"]},
        environ_base={"REMOTE_ADDR": "192.0.2.99"},
    )
    assert other.status_code == 200


def test_basic_auth_is_refused_after_the_limit(limited: World) -> None:
    world = limited
    wrong = _basic(world.emails["analyst"], WRONG)
    statuses = [world.client.get("/v1/projects", headers=wrong).status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    assert world.client.get("/v1/projects", headers=world.basic("analyst")).status_code == 429
    # Bearer tokens are not password logins: they keep working from the refused address.
    token = world.client.post(
        "/v1/sessions",
        json={"email": world.emails["analyst"], "password": world.passwords["analyst"]},
        environ_base={"REMOTE_ADDR": "192.0.2.99"},
    ).json["token"]
    assert world.client.get("/v1/projects", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_device_logins_are_refused_after_the_limit_with_openrosa_xml(limited: World) -> None:
    world = limited
    uri = f"/v1/projects/{world.project_id}/formList"
    wrong = {**OR_HEADERS, **_basic(world.emails["enumerator"], WRONG)}
    statuses = [world.client.get(uri, headers=wrong).status_code for _ in range(3)]
    assert statuses == [401, 401, 401]
    res = world.client.get(uri, headers={**OR_HEADERS, **world.basic("enumerator")})
    assert res.status_code == 429
    assert b"<OpenRosaResponse" in res.data and b"429.1" in res.data
    assert "Retry-After" in res.headers


def test_one_count_per_address_across_every_login_path(limited: World) -> None:
    world = limited
    email = world.emails["supervisor"]
    client = world.app.test_client()
    token = csrf_token(client)
    admin = client.post("/admin/login", data={"email": email, "password": WRONG, "csrf_token": token})
    assert admin.status_code == 401
    assert world.client.post("/v1/sessions", json={"email": email, "password": WRONG}).status_code == 401
    assert world.client.get("/v1/projects", headers=_basic(email, WRONG)).status_code == 401
    res = client.post(
        "/admin/login", data={"email": email, "password": world.passwords["supervisor"], "csrf_token": token}
    )
    assert res.status_code == 429 and "text/html" in res.content_type
    assert "Retry-After" in res.headers


def test_the_count_is_shared_by_two_apps_on_one_database(limited: World, app_config: dict[str, Any]) -> None:
    """Two app instances (as two workers or servers would be) on one database share the count."""
    other = create_app({**app_config, "LOGIN_RATE_LIMIT": "3 per minute"})
    try:
        email = limited.emails["manager"]
        clients = [limited.client, other.test_client()]
        statuses = [
            clients[i % 2].post("/v1/sessions", json={"email": email, "password": WRONG}).status_code
            for i in range(4)
        ]
        assert statuses == [401, 401, 401, 429]
    finally:
        get_database(other).dispose()


def test_the_count_can_live_in_redis(app_config: dict[str, Any], world: World) -> None:
    """With RUTA_REDIS_URL the count is in Redis (two apps share it) and nothing in the database."""
    import redis

    url = "redis://127.0.0.1:6379/9"
    apps = [
        create_app({**app_config, "REDIS_URL": url, "LOGIN_RATE_LIMIT": "3 per minute"}) for _ in range(2)
    ]
    address = f"198.51.100.{secrets.randbelow(250) + 1}"
    key = f"ruta:login-failures:{address}"
    client = redis.Redis.from_url(url)
    client.delete(key)
    try:
        email = world.emails["manager"]
        statuses = [
            apps[i % 2]
            .test_client()
            .post(
                "/v1/sessions",
                json={"email": email, "password": WRONG},
                environ_base={"REMOTE_ADDR": address},
            )
            .status_code
            for i in range(4)
        ]
        assert statuses == [401, 401, 401, 429]
        assert client.zcard(key) == 3
        assert 0 < int(client.ttl(key)) <= 60
        assert _failures(world.app) == 0
    finally:
        client.delete(key)
        client.close()
        for app in apps:
            get_database(app).dispose()


def test_old_failures_are_forgotten(limited: World) -> None:
    world = limited
    email = world.emails["manager"]
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        long_ago = datetime.now(UTC) - timedelta(hours=2)
        s.add_all([LoginFailure(client_key="127.0.0.1", failed_at=long_ago) for _ in range(5)])
        s.commit()
    assert world.client.post("/v1/sessions", json={"email": email, "password": WRONG}).status_code == 401
    assert _failures(world.app) == 1  # the old rows were deleted when the new one was written
