"""The database: declarative base with a naming convention, column types, one engine per app.

Sessions: a web request gets one session (``get_session``) that its view commits once at the end; a
CLI command or job opens its own with ``session_scope``. Services only flush.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
import sqlalchemy as sa
from flask import Flask, current_app, g
from psycopg import pq
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, registry
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import NullPool

# Alembic names constraints from this convention, so migrations are stable across both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both databases.

    SQLite has no time zones, so values are stored as naive UTC and handed back aware; a naive value
    coming in is a bug, so it is refused rather than guessed.
    """

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(sa.DateTime(timezone=True))
        return dialect.type_descriptor(sa.DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# JSON: JSONB on PostgreSQL (indexable, compact), JSON text on SQLite.
JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _json_dumps(value: Any) -> str:
    # ensure_ascii=False keeps Spanish/Portuguese/Kreyòl labels readable in the database.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def make_engine(url: str, *, pool: bool = True) -> Engine:
    """An engine for ``url`` with the pragmas and transaction handling Ruta relies on."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(
            url,
            json_serializer=_json_dumps,
            connect_args={"timeout": 30, "check_same_thread": False},
            poolclass=None if pool else NullPool,
        )
        _configure_sqlite(engine)
        return engine
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    if not pool or sa.make_url(url).drivername != "postgresql+psycopg":
        # Migrations, one-off tools and any other driver named in the URL: the stock pre-ping.
        return sa.create_engine(url, json_serializer=_json_dumps, pool_pre_ping=True)
    # The pooled app engine: its connections open their transaction at checkout (below).
    url = url.replace("postgresql+psycopg://", "postgresql+ruta_psycopg://", 1)
    engine = sa.create_engine(url, json_serializer=_json_dumps, pool_size=10, max_overflow=20)
    event.listen(engine, "checkout", _begin_at_checkout)
    return engine


class RutaPsycopgDialect(PGDialect_psycopg):
    """psycopg, for connections whose transaction ``_begin_at_checkout`` opened. psycopg refuses to
    change isolation level, read-only or deferrable inside a transaction, and SQLAlchemy changes them
    only outside one of its own; so a transaction open at that moment is the checkout's BEGIN with
    nothing run in it, and it is ended first (``engine.connect().execution_options(isolation_level=
    "AUTOCOMMIT")`` for a VACUUM, say, works as on any engine)."""

    supports_statement_cache = True  # SQLAlchemy asks every dialect subclass to say so itself

    def set_isolation_level(self, dbapi_connection: Any, level: Any) -> None:
        _end_unused_begin(dbapi_connection)
        super().set_isolation_level(dbapi_connection, level)

    def set_readonly(self, connection: Any, value: Any) -> None:
        _end_unused_begin(connection)
        super().set_readonly(connection, value)

    def set_deferrable(self, connection: Any, value: Any) -> None:
        _end_unused_begin(connection)
        super().set_deferrable(connection, value)


registry.register("postgresql.ruta_psycopg", __name__, "RutaPsycopgDialect")


def _end_unused_begin(dbapi_conn: Any) -> None:
    if dbapi_conn.pgconn.transaction_status == pq.TransactionStatus.INTRANS:
        dbapi_conn.rollback()


def _begin_at_checkout(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
    """A pooled PostgreSQL connection the server ended (restart, failover, pg_terminate_backend, idle
    timeout) must be found and replaced before a request uses it, or the device gets a 503. A check of
    the idle socket alone missed connections ended a moment before checkout, so it takes a round trip;
    this one is the request's own BEGIN (sent straight through libpq: psycopg then sees the transaction
    open and sends no BEGIN of its own), where ``pool_pre_ping`` would spend a SELECT 1 and psycopg a
    BEGIN. Isolation level and transactions are unchanged: a BEGIN is what psycopg would send first,
    and COMMIT/ROLLBACK and later transactions on the connection go through psycopg as always.
    Raising DisconnectionError makes the pool discard this connection and check out another."""
    configured = dbapi_conn.isolation_level is not None or dbapi_conn.read_only is not None
    try:
        if dbapi_conn.autocommit or configured:
            dbapi_conn.execute("SELECT 1")  # a connection someone configured: a plain ping
            return
        if dbapi_conn.pgconn.transaction_status != pq.TransactionStatus.IDLE:
            raise DisconnectionError("pooled connection not idle")
        result = dbapi_conn.pgconn.exec_(b"BEGIN")
    except psycopg.Error as exc:
        raise DisconnectionError(str(exc)) from exc
    if result.status != pq.ExecStatus.COMMAND_OK:
        raise DisconnectionError((result.error_message or b"BEGIN failed").decode("utf-8", "replace"))


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # SQLAlchemy's documented fix: let SQLAlchemy emit BEGIN itself so SAVEPOINTs work.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        # FULL: a commit survives power loss, which "nothing acknowledged is ever lost" requires.
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front: two deferred transactions that both read then write
        # would otherwise deadlock and fail with "database is locked" instead of waiting their turn.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """The engine and session factory of one app; kept in ``app.extensions['ruta.db']``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session_scope(self) -> Iterator[Session]:
        """A session for a CLI command or job; the caller commits."""
        session = self.sessionmaker()
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


def init_app(app: Flask) -> None:
    app.extensions["ruta.db"] = Database(app.config["DATABASE_URL"])

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        # Anything a view did not commit is rolled back here: an error never leaves a half write.
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            session.rollback()
            session.close()


def get_database(app: Flask | None = None) -> Database:
    return (app or current_app).extensions["ruta.db"]


def get_session() -> Session:
    """The session of the current request (created on first use)."""
    if "db_session" not in g:
        g.db_session = get_database().sessionmaker()
    session: Session = g.db_session
    return session
