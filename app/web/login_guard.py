"""Every password login goes through here: the admin's login form, ``POST /v1/sessions``, HTTP Basic on
the API and OData, Digest and Basic on device endpoints.

Before the password is checked, an address over its login limit is refused with a 429 (so a guess
made while refused learns nothing, right or wrong). A wrong password is counted in its own
transaction: the request's is rolled back first (authentication comes before any write, and the request
fails anyway), then the failure is written and committed, so the count outlives the 401.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, current_app, request

from app.db import get_session
from app.errors import AuthenticationFailedError, TooManyRequestsError
from app.services.accounts.login_limits import (
    DatabaseStore,
    LoginLimiter,
    RedisStore,
    client_key,
    parse_limits,
)


def init_app(app: Flask) -> None:
    parse_limits(str(app.config["LOGIN_RATE_LIMIT"]))  # a mistyped setting stops start-up
    redis_url = app.config.get("REDIS_URL")
    if redis_url:
        import redis  # the optional extra: pip install 'ruta[redis]'

        store: DatabaseStore | RedisStore = RedisStore(redis.Redis.from_url(redis_url))
    else:
        store = DatabaseStore()
    app.extensions["ruta.login_limiter"] = LoginLimiter(store)


@contextmanager
def password_attempt() -> Iterator[None]:
    """Wrap a password check: refused with 429 when the address is over its limit; a wrong password
    (``AuthenticationFailedError``) is counted and raised on."""
    limiter: LoginLimiter = current_app.extensions["ruta.login_limiter"]
    setting = str(current_app.config["LOGIN_RATE_LIMIT"])
    key = client_key(request.remote_addr)
    session = get_session()
    wait = limiter.retry_after(session, key, setting)
    if wait is not None:
        raise TooManyRequestsError(
            f"Too many wrong passwords from this address. Wait {wait} seconds and try again.",
            retry_after=wait,
        )
    try:
        yield
    except AuthenticationFailedError:
        session.rollback()
        limiter.record_failure(session, key, setting)
        session.commit()  # deliberate: the count outlives the request's rollback
        raise
