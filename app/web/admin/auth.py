"""Logging in and out of the admin, and choosing its language.

A failed login counts against the address's login limit (``LOGIN_RATE_LIMIT``, shared with the API's
password logins: ``app.web.login_guard``); a successful one does not, so a busy office behind one NAT
address is not locked out by its own people.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Response, g, redirect, render_template, request, session, url_for
from flask_babel import gettext
from flask_wtf.csrf import generate_csrf

from app.auth.actor import Actor
from app.db import get_session
from app.errors import AuthenticationFailedError
from app.models import User
from app.services.accounts import people as accounts
from app.services.accounts import two_factor
from app.services.audit import events as audit_service
from app.web.admin import bp
from app.web.admin import sessions as admin_sessions
from app.web.admin.setup import LOCALES
from app.web.auth import api_actor
from app.web.login_guard import password_attempt


def _safe_next(target: str | None) -> str:
    """Only a path inside the admin: an open redirect would let a phishing link borrow Ruta's name."""
    if target and target.startswith("/admin") and not urlsplit(target).netloc and "\\" not in target:
        return target
    return url_for("admin.index")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str:
    if request.method == "GET":
        if not api_actor().is_anonymous:
            return redirect(_safe_next(request.args.get("next")))  # type: ignore[return-value]
        return render_template("admin/login.html", next=request.args.get("next", ""), error=None)
    email = request.form.get("email", "")
    password = request.form.get("password", "")
    db = get_session()
    try:
        with password_attempt():
            user = accounts.authenticate(db, email=email, password=password)
    except AuthenticationFailedError:
        return Response(
            render_template(
                "admin/login.html",
                next=request.form.get("next", ""),
                error=gettext("The email address or password is not correct."),
                email=email,
            ),
            status=401,
        )
    if two_factor.is_enabled(user):
        from app.web.admin.account import start_second_step

        return start_second_step(user, request.form.get("next", ""))
    return finish_login(user, request.form.get("next"))


def finish_login(user: User, next_url: str | None) -> Response:
    """Start the person's server-side session (after the password, and the second step if they have one)."""
    current = admin_sessions.current()
    if current.token is not None:  # logged in already (as someone else, perhaps): that session ends
        admin_sessions.log_out(current)
    current.clear()  # a fresh session and CSRF token at login: no session fixation
    current.ended = False
    current.permanent = True
    generate_csrf()
    admin_sessions.log_in(current, user_id=user.id, data=dict(current))
    audit_service.record(
        get_session(),
        actor=Actor(user=user),
        action="user.login.web",
        subject_type="user",
        subject_id=user.id,
    )
    return redirect(_safe_next(next_url), code=303)  # type: ignore[return-value]


@bp.post("/logout")
def logout() -> Response:
    actor = api_actor()
    if actor.user is not None:
        audit_service.record(
            get_session(),
            actor=actor,
            action="user.logout.web",
            subject_type="user",
            subject_id=actor.user.id,
        )
    admin_sessions.log_out(admin_sessions.current())
    return redirect(url_for("admin.login"), code=303)  # type: ignore[return-value]


@bp.post("/locale")
def set_locale() -> Response:
    """Remember the chosen language: on the person's account when logged in, else in the session."""
    locale = request.form.get("locale", "")
    if locale in LOCALES:
        session["locale"] = locale
        actor = api_actor()
        if actor.user is not None:
            accounts.set_locale(get_session(), actor=actor, user=actor.user, locale=locale)
        g.admin_locale = locale
    return redirect(_safe_next(request.form.get("next")), code=303)  # type: ignore[return-value]
