"""Database-backed fixtures. Every test here runs on SQLite; when TEST_DATABASE_URL is set, on that
PostgreSQL database instead (.ci/run runs the suite both ways).

The schema is built once per session by ``alembic upgrade head`` (so the migrations are what is
tested), then each test gets a clean database: a copy of the migrated SQLite file, or TRUNCATE on
PostgreSQL. Tests commit for real, exactly as requests do.
"""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.auth import passwords
from app.db import Base, get_database
from app.migrate import alembic_config


def _worker_database(url: str | None) -> str | None:
    """Under pytest-xdist each worker gets its own PostgreSQL database (``<name>_gw0``, ...), created on
    first use, since every test truncates the tables it runs on; without xdist the URL is used as given."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker:
        return url
    base, _, name = url.rpartition("/")
    target = f"{name}_{worker}"
    admin = sa.create_engine(
        f"{base}/postgres".replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        if conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target}) is None:
            conn.execute(sa.text(f'CREATE DATABASE "{target}"'))
    admin.dispose()
    return f"{base}/{target}"


PG_URL = _worker_database(os.environ.get("TEST_DATABASE_URL"))

passwords.use_fast_hashing_for_tests()
DB_KIND = "postgresql" if PG_URL else "sqlite"


def _migrate(url: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(url), "head")


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The URL of a database migrated to head (for SQLite: the template file's URL)."""
    if PG_URL:
        engine = sa.create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        engine.dispose()
        _migrate(PG_URL)
        return PG_URL
    template = tmp_path_factory.mktemp("db") / "template.sqlite3"
    url = f"sqlite:///{template}"
    _migrate(url)
    return url


def _truncate_all(url: str) -> None:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def database_url(migrated_database: str, tmp_path: Path) -> Iterator[str]:
    if PG_URL:
        _truncate_all(PG_URL)
        yield PG_URL
        return
    template = Path(migrated_database.removeprefix("sqlite:///"))
    target = tmp_path / "ruta.sqlite3"
    shutil.copyfile(template, target)
    yield f"sqlite:///{target}"


@pytest.fixture
def app_config(database_url: str, tmp_path: Path) -> dict[str, Any]:
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": "test-secret",
        "ODK_VALIDATE": False,  # tests that need it switch it on; it starts a JVM per form
        "ALLOW_BASIC_OVER_HTTP": True,
    }


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Flask]:
    application = create_app(app_config)
    yield application
    get_database(application).dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@dataclass
class World:
    """A small world of two organisations with one project each, and a user per role."""

    app: Flask
    client: FlaskClient
    org_id: int
    other_org_id: int
    project_id: int
    other_project_id: int
    passwords: dict[str, str]
    emails: dict[str, str]
    user_ids: dict[str, int]

    def headers(self, who: str) -> dict[str, str]:
        if who == "anonymous":
            return {}
        res = self.client.post(
            "/v1/sessions", json={"email": self.emails[who], "password": self.passwords[who]}
        )
        assert res.status_code == 200, res.json
        return {"Authorization": f"Bearer {res.json['token']}"}

    def basic(self, who: str) -> dict[str, str]:
        raw = f"{self.emails[who]}:{self.passwords[who]}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


ROLE_NAMES = ("admin", "manager", "supervisor", "analyst", "enumerator", "outsider")


@pytest.fixture
def world(app: Flask, client: FlaskClient) -> World:
    return build_world(app, client)


def build_world(app: Flask, client: FlaskClient) -> World:
    """The world's rows in ``app``'s (empty, migrated) database; also for module-scoped databases."""
    from app.auth.actor import Actor
    from app.services import projects
    from app.services.accounts import people as accounts

    realm = app.config["DIGEST_REALM"]
    passwords = {name: f"{name}-password-123" for name in ROLE_NAMES}
    emails = {name: f"{name}@example.org" for name in ROLE_NAMES}
    ids: dict[str, int] = {}
    with app.app_context(), get_database(app).session_scope() as session:
        admin = accounts.create_user(
            session,
            actor=None,
            email=emails["admin"],
            password=passwords["admin"],
            realm=realm,
            is_admin=True,
        )
        actor = Actor(user=admin)
        org = projects.create_organisation(session, actor=actor, code="ORG-A", name="Org A")
        other = projects.create_organisation(session, actor=actor, code="ORG-B", name="Org B")
        project = projects.create_project(
            session, actor=actor, organisation=org, name="Rumichaca", countries=["COL", "ECU"]
        )
        other_project = projects.create_project(session, actor=actor, organisation=other, name="Tumbes")
        ids["admin"] = admin.id
        for role in ("manager", "supervisor", "analyst", "enumerator"):
            u = accounts.create_user(
                session,
                actor=actor,
                email=emails[role],
                password=passwords[role],
                realm=realm,
                organisation_id=org.id,
            )
            accounts.assign_role(session, actor=actor, project=project, user=u, role=role)
            ids[role] = u.id
        # A manager of the other organisation: must never see org A's project.
        outsider = accounts.create_user(
            session,
            actor=actor,
            email=emails["outsider"],
            password=passwords["outsider"],
            realm=realm,
            organisation_id=other.id,
        )
        accounts.assign_role(session, actor=actor, project=other_project, user=outsider, role="manager")
        ids["outsider"] = outsider.id
        session.commit()
        return World(app, client, org.id, other.id, project.id, other_project.id, passwords, emails, ids)


@pytest.fixture
def live(world: World) -> Iterator[str]:
    """Ruta served over real HTTP on a loopback port, for clients that are separate processes or that
    need real concurrency (pyodk, the web-form engine, parallel POSTs)."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, world.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
