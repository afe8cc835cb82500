"""An optional read replica (``RUTA_DATABASE_REPLICA_URL``) for the heavy reads: exports, OData and
indicator values.

A replica lags its primary a little, so a person who just changed something must see the change: any
successful write request (a method other than GET/HEAD/OPTIONS that did not itself read from the
replica) sets a short cookie, and while it lasts (``RUTA_REPLICA_PIN_SECONDS``) that browser's or
client's reads go to the primary. Clients without cookies (a script with a bearer token and no cookie
jar) read the replica at once, which lags by the replication delay. Without a replica URL all of this
is off and every read uses the primary, as before.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, g, request
from sqlalchemy.orm import Session

from app.db import Database, get_session

PIN_COOKIE = "ruta_primary"
_SAFE = {"GET", "HEAD", "OPTIONS"}


def init_app(app: Flask) -> None:
    url = app.config.get("DATABASE_REPLICA_URL")
    if not url:
        return
    app.extensions["ruta.replica"] = Database(url)

    @app.after_request
    def _pin_after_write(response: Response) -> Response:
        if request.method not in _SAFE and response.status_code < 400 and not g.get("read_replica"):
            response.set_cookie(
                PIN_COOKIE,
                "1",
                max_age=int(app.config["REPLICA_PIN_SECONDS"]),
                httponly=True,
                samesite="Lax",
                secure=bool(app.config.get("SESSION_COOKIE_SECURE")),
            )
        return response

    @app.teardown_appcontext
    def _close_replica_session(_exc: BaseException | None) -> None:
        session: Session | None = g.pop("replica_session", None)
        if session is not None:
            session.rollback()
            session.close()


def get_read_session() -> Session:
    """The session for a heavy read: the replica's, unless there is none or this client just wrote."""
    replica: Database | None = current_app.extensions.get("ruta.replica")
    if replica is None or request.cookies.get(PIN_COOKIE):
        return get_session()
    g.read_replica = True
    if "replica_session" not in g:
        g.replica_session = replica.sessionmaker()
    session: Session = g.replica_session
    return session


def dispose(app: Flask) -> None:
    replica: Database | None = app.extensions.get("ruta.replica")
    if replica is not None:
        replica.dispose()
