"""Several app servers: the HEAD probe memory lives in Redis when ``RUTA_REDIS_URL`` is set, so a
device revoked through one server is refused at once by the probe on another (no process memory)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from app import create_app
from app.auth import probe_cache
from app.db import get_database
from tests.app.conftest import World
from tests.app.openrosa_helpers import OR_HEADERS, SIMPLE_FORM, device_token, publish_xml, root

REDIS_URL = "redis://127.0.0.1:6379/13"


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return app_config | {"REDIS_URL": REDIS_URL}


@pytest.fixture(autouse=True)
def _clean_redis() -> Iterator[None]:
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(match=probe_cache.PREFIX + "*"):
        client.delete(key)
    yield
    probe_cache.configure(None)  # later tests in this process use process memory again


def test_a_revocation_on_one_server_reaches_the_probe_of_another(
    world: World, app_config: dict[str, Any]
) -> None:
    publish_xml(world, SIMPLE_FORM)
    issued = device_token(world)
    device = root(world, issued["token"])
    other = create_app(app_config)  # a second app server on the same database and Redis
    try:
        second = other.test_client()
        assert second.head(f"{device}/submission", headers=OR_HEADERS).status_code == 204
        stored = redis.Redis.from_url(REDIS_URL).keys(probe_cache.PREFIX + "*")
        assert len(stored) == 1 and issued["token"].encode() not in stored[0]  # hashed, never the token
        # Revoked by another process (as another app server would), which cannot touch this one's memory.
        script = (
            "from app import create_app; from app.auth.actor import Actor; from app.db import get_database; "
            "from app.models import AppUser; from app.services.accounts import app_users; "
            "app = create_app(); "
            f"s = get_database(app).sessionmaker(); u = s.get(AppUser, {issued['id']}); "
            "app_users.revoke_app_user(s, actor=Actor(), app_user=u); s.commit()"
        )
        env = os.environ | {
            "RUTA_DATABASE_URL": app_config["DATABASE_URL"],
            "RUTA_REDIS_URL": REDIS_URL,
            "RUTA_INSTANCE_PATH": app_config["INSTANCE_PATH"],
            "RUTA_SECRET_KEY": "test-secret",
        }
        subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=120)
        assert second.head(f"{device}/submission", headers=OR_HEADERS).status_code == 401
    finally:
        get_database(other).dispose()
