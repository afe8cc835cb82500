"""What every benchmark needs to start from an empty database: PostgreSQL at PG_ADMIN_URL (trust auth)
gives each benchmark its own database, dropped and created per run; SQLite is a file in a temp folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
BENCH_EMAIL = "bench@ruta.local"
BENCH_PASSWORD = "bench-password-1"


def sa_url(url: str) -> str:
    """The SQLAlchemy form of a ``postgresql://`` URL (psycopg 3)."""
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def fresh_postgres(name: str, admin_url: str = PG_ADMIN_URL) -> str:
    """Drop and create the database ``name``; its ``postgresql://`` URL."""
    engine = sa.create_engine(sa_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def fresh_database(kind: str, name: str, tmp: Path) -> str:
    """An empty database of ``kind`` (postgresql or sqlite): the URL."""
    if kind == "sqlite":
        path = tmp / "bench.sqlite3"
        path.unlink(missing_ok=True)
        return f"sqlite:///{path}"
    return fresh_postgres(name)


def bench_app(url: str, tmp: Path, form_xml: bytes, **project: Any) -> tuple[Any, Any, dict[str, str], int]:
    """An in-process Ruta on ``url`` (migrated): an admin, an organisation and a project (``project``
    fields such as ``countries`` passed on), ``form_xml`` published through the API. Returns the app,
    its test client, the admin's API headers and the project id."""
    from alembic import command

    from app import create_app
    from app.auth import passwords
    from app.auth.actor import Actor
    from app.db import get_database
    from app.migrate import alembic_config
    from app.services import projects
    from app.services.accounts import people as accounts

    passwords.use_fast_hashing_for_tests()
    command.upgrade(alembic_config(url), "head")
    app = create_app(
        {
            "DATABASE_URL": url,
            "INSTANCE_PATH": str(tmp / "instance"),
            "SECRET_KEY": "b",
            "ODK_VALIDATE": False,
        }
    )
    with app.app_context(), get_database(app).session_scope() as s:
        admin = accounts.create_user(
            s, actor=None, email=BENCH_EMAIL, password=BENCH_PASSWORD, realm="Ruta", is_admin=True
        )
        org = projects.create_organisation(s, actor=Actor(user=admin), code="BENCH", name="Bench")
        created = projects.create_project(
            s, actor=Actor(user=admin), organisation=org, name="Bench", **project
        )
        s.commit()
        pid = created.id
    client = app.test_client()
    token = client.post("/v1/sessions", json={"email": BENCH_EMAIL, "password": BENCH_PASSWORD})
    headers = {"Authorization": f"Bearer {token.json['token']}"}  # type: ignore[index]
    # A benchmark's form may name media it never uploads: the publish gate is told why (the reason).
    res = client.post(
        f"/v1/projects/{pid}/forms?publish=true&overrideReason=benchmark",
        data=form_xml,
        content_type="application/xml",
        headers=headers,
    )
    assert res.status_code == 200, res.json
    return app, client, headers, pid
