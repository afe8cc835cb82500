"""What every benchmark needs to start from an empty database: PostgreSQL at PG_ADMIN_URL (trust auth)
gives each benchmark its own database, dropped and created per run; SQLite is a file in a temp folder."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


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
