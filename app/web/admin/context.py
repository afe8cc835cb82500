"""What every admin request shares: who is logged in, CSRF, security headers, and errors as HTML pages.

The logged-in person is the server-side session's (``app/web/admin/sessions.py``); ``app.web.auth.api_actor``
turns it into the same ``Actor`` the JSON API uses, so access is decided by the one policy table.
"""

from __future__ import annotations

import logging

from flask import Response, g, redirect, render_template, request, session, url_for
from werkzeug.exceptions import HTTPException

from app.auth.actor import Actor
from app.db import get_session
from app.errors import AuthenticationRequiredError, RutaError, TooManyRequestsError
from app.models import Project
from app.services import projects
from app.web.admin import bp
from app.web.admin.sessions import current, log_out
from app.web.admin.setup import csrf
from app.web.auth import api_actor

log = logging.getLogger("ruta.admin")

# No inline script or style, nothing from other origins: a value that escaped escaping cannot run.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self'; object-src 'none'; frame-src 'none'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)


@bp.before_request
def _load_user() -> None:
    user_id = getattr(session, "user_id", None)  # a server-side session's person (admin/sessions.py)
    if isinstance(user_id, int):
        g.user_id = user_id
        actor = api_actor()
        if actor.user is None:  # deactivated or deleted since logging in
            log_out(current())
            # Deliberate: a before_request hook runs outside the view's unit of work, and the page that
            # follows fails (login required), which would roll the log-out back.
            get_session().commit()
            g.pop("user_id", None)
            g.pop("actor", None)
        else:
            g.admin_locale = actor.user.locale or session.get("locale")
    else:
        g.admin_locale = session.get("locale")
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()


@bp.after_request
def _security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if response.mimetype == "text/html":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def current_actor() -> Actor:
    """The logged-in person; anonymous visitors are sent to the login page."""
    actor = api_actor()
    actor.require_login()
    return actor


def project_for(actor: Actor, project_id: int, action: str) -> Project:
    """The project once ``actor`` may do ``action`` in it; 404 for people with no role in it."""
    return projects.project_for(get_session(), actor=actor, project_id=project_id, action=action)


def error_page(status: int, message: str) -> Response:
    from app.web.admin.error_messages import heading

    html = render_template("admin/error.html", status=status, message=message, heading=heading(status))
    return Response(html, status=status)


@bp.errorhandler(RutaError)
def _ruta_error(error: RutaError) -> Response:
    get_session().rollback()
    if isinstance(error, AuthenticationRequiredError):
        target = request.full_path if request.method == "GET" else None
        return redirect(url_for("admin.login", next=target))  # type: ignore[return-value]
    if isinstance(error, TooManyRequestsError):  # the login limit
        from flask_babel import gettext

        response = error_page(429, gettext("Too many attempts. Wait a minute and try again."))
        response.headers.update(error.response_headers())
        return response
    from app.web.admin.error_messages import message

    return error_page(error.status, message(error))


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    from flask_babel import gettext

    get_session().rollback()
    status = exc.code or 500
    if exc.name == "CSRF Error" or "CSRF" in (exc.description or ""):
        message = gettext("This page had expired. Go back, reload it and try again.")
    elif status == 404:
        message = gettext("Not found, or you do not have access to it.")
    elif status == 413:
        message = gettext("The upload is larger than the server accepts.")
    elif status == 405:
        message = gettext("This method is not allowed here.")
    else:
        message = gettext("The request could not be understood.")
    return error_page(status, message)


@bp.errorhandler(Exception)
def _unexpected(exc: Exception) -> Response:
    from flask_babel import gettext

    from app.web.errors import render_fault, storage_fault

    fault = storage_fault(exc)
    if fault is not None:  # the same 503/507 and Retry-After as everywhere, as a page
        log.error("storage fault on %s %s: %s", request.method, request.path, exc)
        return render_fault(fault)
    log.exception("unhandled error on %s %s", request.method, request.path)
    get_session().rollback()
    return error_page(500, gettext("Something went wrong on the server. The error has been logged."))


# The project menu. Other features (indicators, hubs) add their page with ``add_project_menu_item``;
# an item whose endpoint is not registered in this app is left out, and so is one the person's role
# does not allow (``action``, a policy action): a role never sees menus it cannot use.
_PROJECT_MENU: list[tuple[str, str, str]] = []
_MENU_ACTIONS = {"admin.hubs": "hub.manage", "admin.indicators": "indicator.read"}


def add_project_menu_item(endpoint: str, label: str, action: str | None = None) -> None:
    """Add a page to every project's menu; ``endpoint`` takes a ``project_id`` argument."""
    action = action or _MENU_ACTIONS.get(endpoint, "project.read")
    if all(item[0] != endpoint for item in _PROJECT_MENU):
        _PROJECT_MENU.append((endpoint, label, action))


def project_menu(project: Project, active: str) -> list[dict[str, object]]:
    from flask import current_app
    from flask_babel import gettext

    items = [
        ("admin.project", gettext("Forms"), "form.list"),
        ("admin.devices", gettext("Devices and enumerators"), "app_user.list"),
    ]
    items += [(endpoint, gettext(label), action) for endpoint, label, action in _PROJECT_MENU]
    known = {rule.endpoint for rule in current_app.url_map.iter_rules()}
    actor = api_actor()
    db = get_session()
    return [
        {"url": url_for(endpoint, project_id=project.id), "label": label, "active": endpoint == active}
        for endpoint, label, action in items
        if endpoint in known and actor.can(db, action, project.id)
    ]


@bp.context_processor
def _template_globals() -> dict[str, object]:
    from flask_babel import get_locale

    from app.web.admin.labels import ACTION_LABELS, FLAG_LABELS, audit_action_label, flag_reason, label
    from app.web.admin.setup import LOCALE_NAMES

    actor = g.get("actor")
    from app.web.admin.filters import query_string

    return {
        "qs": query_string,
        "label": label,
        "flag_labels": FLAG_LABELS,
        "action_labels": ACTION_LABELS,
        "current_locale": str(get_locale() or "es"),
        "locale_names": LOCALE_NAMES,
        "admin_user": actor.user if actor is not None else None,
        "flag_reason": flag_reason,
        "audit_label": audit_action_label,
    }
