"""The admin's extensions: CSRF protection and translations (login limits: ``app.web.login_guard``).

CSRF is checked only on the admin's own requests (the JSON API and OpenRosa are token-authenticated and
must stay CSRF-free), so ``WTF_CSRF_CHECK_DEFAULT`` is off and the blueprint calls ``csrf.protect()``.
"""

from __future__ import annotations

from flask import Flask, Response, g, redirect, request, url_for
from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect

LOCALES = ("es", "en", "pt")
LOCALE_NAMES = {"es": "Español", "en": "English", "pt": "Português"}

csrf = CSRFProtect()
babel = Babel()


def select_locale() -> str:
    """The person's own choice, else the browser's, else the installation's default."""
    chosen = getattr(g, "admin_locale", None)
    if chosen in LOCALES:
        return str(chosen)
    best = request.accept_languages.best_match(LOCALES) if request else None
    return best or "es"


def init_app(app: Flask) -> None:
    from app.web.admin.sessions import AdminSessionInterface

    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # tied to the session, which expires itself
    csrf.init_app(app)
    app.session_interface = AdminSessionInterface()
    babel.init_app(app, locale_selector=select_locale, default_locale=app.config["BABEL_DEFAULT_LOCALE"])
    from app.web.admin import bp

    app.register_blueprint(bp)
    # A person who types the server's address lands in the admin (the login page if not logged in).
    app.add_url_rule("/", endpoint="root", view_func=_to_admin)


def _to_admin() -> Response:
    return redirect(url_for("admin.index"))  # type: ignore[return-value]
