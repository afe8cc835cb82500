"""The admin's session: server-side once logged in.

A logged-in person's session is a database row (``ApiSession`` of kind ``web``): the cookie holds only
its random token, and what the session remembers (the CSRF token, a chosen language) is in the row.
Logging out or changing the password deletes the row, so the cookie, or a copy of it, stops working on
every app server at once. An anonymous visitor's session (the login form's CSRF token, a language)
stays in Flask's signed cookie: nothing is written to the database for someone who never logs in.
A signed cookie always contains a "."; a token never does, so the cookie says which one it is.
A request without the cookie (every device and API request) gets its empty session at no cost.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask, Request, Response, current_app, session
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin

from app.db import get_session
from app.services.accounts import people as accounts


class AdminSession(SecureCookieSession):
    # The row's token when logged in; ``fresh``: just logged in (the cookie must be set); ``ended``:
    # logged out (the cookie must go); ``stale``: the cookie named a session that no longer exists.
    token: str | None = None
    user_id: int | None = None
    fresh = False
    ended = False
    stale = False


def current() -> AdminSession:
    """The request's session, typed."""
    found = session._get_current_object()  # type: ignore[attr-defined]
    assert isinstance(found, AdminSession)
    return found


def log_in(admin: AdminSession, *, user_id: int, data: dict[str, Any]) -> None:
    """Make the request's session the new server-side session of ``user_id`` (the view has cleared it
    and filled ``data``, its CSRF token)."""
    ttl = timedelta(hours=current_app.config["SESSION_TTL_HOURS"])
    user = accounts.require_user(get_session(), user_id)
    admin.token = accounts.start_web_session(get_session(), user=user, ttl=ttl, data=data)
    admin.user_id = user_id
    admin.fresh = True


def log_out(admin: AdminSession) -> None:
    if admin.token is not None:
        accounts.end_web_session(get_session(), token=admin.token)
    admin.clear()
    admin.user_id = None
    admin.ended = True


class AdminSessionInterface(SecureCookieSessionInterface):
    session_class = AdminSession

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        value = request.cookies.get(self.get_cookie_name(app))
        if not value and app.secret_key:
            return self.session_class()
        if value and "." not in value:
            row = accounts.web_session(get_session(), value)
            session = self.session_class((row.data or {}) if row is not None else {})
            if row is None:
                session.stale = True
            else:
                session.token, session.user_id = value, row.user_id
            return session
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        assert isinstance(session, AdminSession)
        name, domain, path = self.get_cookie_name(app), self.get_cookie_domain(app), self.get_cookie_path(app)
        if session.ended or (session.stale and not session.modified):
            response.delete_cookie(name, domain=domain, path=path)
            if session.ended:
                return
        if session.token is None:
            super().save_session(app, session, response)
            return
        if session.modified and not session.fresh:
            accounts.save_web_session_data(get_session(), token=session.token, data=dict(session))
            get_session().commit()  # deliberate: saved after the view, outside its unit of work
        if session.fresh:
            response.vary.add("Cookie")
            response.set_cookie(
                name,
                session.token,
                expires=self.get_expiration_time(app, session),
                httponly=self.get_cookie_httponly(app),
                domain=domain,
                path=path,
                secure=self.get_cookie_secure(app),
                samesite=self.get_cookie_samesite(app),
                partitioned=self.get_cookie_partitioned(app),
            )
