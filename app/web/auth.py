"""Who is asking: the actor of the current request, from a bearer session token, HTTP Basic (over
https), or a device token in the URL. Resolved once per request and kept on ``g``."""

from __future__ import annotations

import base64
import binascii

from flask import current_app, g, request

from app.auth.actor import Actor
from app.db import get_session
from app.errors import AuthenticationFailedError, AuthenticationRequiredError
from app.services.accounts import people as accounts
from app.services.accounts import two_factor
from app.web.login_guard import password_attempt


def basic_allowed() -> bool:
    return bool(request.is_secure or current_app.config["ALLOW_BASIC_OVER_HTTP"])


def api_actor() -> Actor:
    """The actor for JSON API requests (anonymous when no credentials were sent)."""
    if "actor" in g:
        actor: Actor = g.actor
        return actor
    session = get_session()
    header = request.headers.get("Authorization", "")
    actor = Actor()
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value:
        user = accounts.user_for_session_token(session, value.strip())
        if user is None:
            raise AuthenticationFailedError("The session token is not valid or has expired. Log in again.")
        actor = Actor(user=user)
        g.bearer_token = value.strip()  # the session a password change keeps
    elif scheme.lower() == "basic" and value:
        if not basic_allowed():
            raise AuthenticationRequiredError(
                "Basic authentication is only accepted over https. Use https, or log in with "
                "POST /v1/sessions and send the bearer token."
            )
        with password_attempt():
            email, password = _decode_basic(value)
            user = accounts.authenticate(session, email=email, password=password)
            two_factor.require_no_second_factor(user)
            actor = Actor(user=user)
    elif "user_id" in g:  # the admin's cookie session (set by the admin blueprint)
        user = accounts.get_user_or_none(session, g.user_id)
        if user is not None and user.is_active:
            actor = Actor(user=user)
    g.actor = actor
    return actor


def _decode_basic(value: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as err:
        raise AuthenticationFailedError(
            "The Basic credentials are not valid base64 of email:password."
        ) from err
    email, sep, password = decoded.partition(":")
    if not sep:
        raise AuthenticationFailedError("The Basic credentials must be email:password.")
    return email, password


def logged_in_actor() -> Actor:
    actor = api_actor()
    actor.require_login()
    return actor
