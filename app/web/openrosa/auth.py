"""Device authentication: a token in the URL, or an account by HTTP Digest (always) or Basic (https).

Collect sends credentials only after a 401 carrying a challenge. Digest nonces are stateless (a
timestamp signed with the app's secret), so any app server behind a load balancer can check them.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import timedelta

from flask import Flask, Response, current_app, g, request
from flask_httpauth import HTTPDigestAuth

from app.auth.actor import Actor
from app.db import get_session, utcnow
from app.errors import AuthenticationFailedError, AuthenticationRequiredError, InvalidTokenError
from app.models import AppUser, Project
from app.services.accounts import app_users, two_factor
from app.services.accounts import people as accounts
from app.web.login_guard import password_attempt

NONCE_TTL_SECONDS = 3600
LAST_SEEN_RESOLUTION = timedelta(minutes=5)


def _sign(value: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"digest-nonce:{value}".encode(), hashlib.sha256).hexdigest()[:32]


def _generate_nonce() -> str:
    stamp = str(int(time.time()))
    return f"{stamp}-{_sign(stamp)}"


def _verify_nonce(nonce: str) -> bool:
    stamp, _, signature = (nonce or "").partition("-")
    # ASCII only: "²".isdigit() is true but int() refuses it, and compare_digest raises on non-ASCII.
    if not (stamp.isascii() and stamp.isdigit() and signature.isascii()):
        return False
    if not hmac.compare_digest(signature, _sign(stamp)):
        return False
    return 0 <= time.time() - int(stamp) <= NONCE_TTL_SECONDS


def init_app(app: Flask) -> None:
    digest = HTTPDigestAuth(realm=app.config["DIGEST_REALM"], use_ha1_pw=True)
    digest.generate_nonce(_generate_nonce)
    digest.verify_nonce(_verify_nonce)
    digest.generate_opaque(lambda: "ruta")
    digest.verify_opaque(lambda opaque: opaque == "ruta")
    app.extensions["ruta.digest"] = digest
    from app.auth import probe_cache

    probe_cache.configure(app.config.get("REDIS_URL"))


def _digest() -> HTTPDigestAuth:
    return current_app.extensions["ruta.digest"]


def add_challenge(response: Response) -> Response:
    """The 401 challenge Collect needs before it sends credentials: Digest, plus Basic over https."""
    response.headers.add("WWW-Authenticate", _digest().authenticate_header())
    if request.is_secure or current_app.config["ALLOW_BASIC_OVER_HTTP"]:
        response.headers.add(
            "WWW-Authenticate", f'Basic realm="{current_app.config["DIGEST_REALM"]}", charset="UTF-8"'
        )
    return response


def token_actor(token: str, project_id: int) -> Actor:
    """The device holding ``token``; the project it asks for is loaded by the same query."""
    return found_device_actor(app_users.device_for_token(get_session(), token, project_id))


def found_device_actor(found: tuple[AppUser, Project | None] | None) -> Actor:
    """The actor for a device a token query found, with the project asked for (None: nobody holds the
    token, a 401)."""
    if found is None:
        return device_actor(None)
    # The session's identity map holds objects weakly: keeping the project for the request lets the
    # view's session.get(Project, id) answer without a query.
    g.device_project = found[1]
    return device_actor(found[0])


def device_actor(app_user: AppUser | None) -> Actor:
    """The actor for the app user a token found (None or revoked: a 401)."""
    if app_user is None or app_user.revoked_at is not None:
        raise InvalidTokenError()
    # last_seen_at is device metadata the admin shows. Writing it on every request would make every
    # HEAD a write and queue all of one token's requests on that row's lock, so it is refreshed at most
    # every few minutes.
    now = utcnow()
    if app_user.last_seen_at is None or now - app_user.last_seen_at > LAST_SEEN_RESOLUTION:
        app_user.last_seen_at = now
    return Actor(app_user=app_user)


def account_actor() -> Actor:
    """An account by Digest or Basic; anonymous requests get a 401 with the challenge."""
    if "actor" in g:
        actor: Actor = g.actor
        return actor
    session = get_session()
    auth = request.authorization
    if auth is None:
        raise AuthenticationRequiredError("Log in with your Ruta account to use this server.")
    if auth.type == "digest":
        with password_attempt():
            user = accounts.get_user_by_email(session, auth.username or "")
            ha1 = user.digest_ha1 if user is not None and user.is_active else None
            if user is None or not _digest().authenticate(auth, ha1):
                raise AuthenticationFailedError("The username or password is not correct.")
            two_factor.require_no_second_factor(user)
    elif auth.type == "basic":
        if not (request.is_secure or current_app.config["ALLOW_BASIC_OVER_HTTP"]):
            raise AuthenticationRequiredError("Basic authentication is only accepted over https.")
        with password_attempt():
            user = accounts.authenticate(session, email=auth.username or "", password=auth.password or "")
            two_factor.require_no_second_factor(user)
    else:
        raise AuthenticationRequiredError()
    g.actor = Actor(user=user)
    return g.actor
