"""A person's own account: their password, their two-factor login; the login's second step; and the
page where a one-time reset code sets a new password.

Changing the password ends every other session of the person (other browsers, API tokens); the one
that asked stays. A wrong current password, a wrong two-factor code and a wrong reset code all count
against the address's login limit (``app.web.login_guard``), like a wrong password at login.
"""

from __future__ import annotations

import time

import segno
from flask import Response, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext

from app.auth.secret_box import box_for
from app.db import get_session
from app.errors import AuthenticationFailedError
from app.models import User
from app.services.accounts import password_resets, two_factor
from app.services.accounts import people as accounts
from app.web.admin import bp
from app.web.admin import sessions as admin_sessions
from app.web.admin.context import current_actor
from app.web.admin.people import ROLE_LABELS, strong_enough
from app.web.login_guard import password_attempt

PENDING = "two_factor_pending"
PENDING_SECONDS = 300
ENROLLING = "totp_enrolling"


def _back(url: str) -> Response:
    return redirect(url, code=303)  # type: ignore[return-value]


@bp.get("/account")
def account() -> str:
    actor = current_actor()
    assert actor.user is not None
    db = get_session()
    return render_template(
        "admin/account.html",
        roles=accounts.roles_of_user(db, user=actor.user),
        two_factor=two_factor.is_enabled(actor.user),
        recovery_left=two_factor.unused_recovery_codes(db, actor.user),
        role_labels=ROLE_LABELS,
    )


def _check_own_password(user: User, field: str = "current_password") -> bool:
    """The person typed their current password (a wrong one counts against the login limit)."""
    try:
        with password_attempt():
            accounts.authenticate(get_session(), email=user.email, password=request.form.get(field, ""))
    except AuthenticationFailedError:
        flash(gettext("The current password is not correct."), "error")
        return False
    return True


@bp.post("/account/password")
def change_password() -> Response:
    actor = current_actor()
    user = actor.user
    assert user is not None
    new = request.form.get("new_password", "")
    reason = strong_enough(new, request.form.get("new_password_confirm", ""))
    if reason:
        flash(reason, "error")
        return _back(url_for("admin.account"))
    if not _check_own_password(user):
        return _back(url_for("admin.account"))
    user = get_session().get(User, user.id)  # a refused attempt rolled the request's session back
    assert user is not None
    ended = accounts.change_password(
        get_session(),
        actor=actor,
        user=user,
        password=new,
        realm=current_app.config["DIGEST_REALM"],
        keep_token=admin_sessions.current().token,
    )
    flash(
        gettext("Password changed. Other sessions ended: %(n)d.", n=ended),
        "ok",
    )
    return _back(url_for("admin.account"))


def _qr_data_uri(uri: str) -> str:
    return str(segno.make(uri, error="m").svg_data_uri(scale=5, border=2))


@bp.get("/account/two-factor")
def two_factor_setup() -> str | Response:
    actor = current_actor()
    assert actor.user is not None
    if two_factor.is_enabled(actor.user):
        return _back(url_for("admin.account"))
    secret = session.get(ENROLLING)
    if not isinstance(secret, str) or len(secret) != 32:
        secret = two_factor.new_secret()
        session[ENROLLING] = secret
    uri = two_factor.provisioning_uri(actor.user, secret)
    return render_template("admin/two_factor_setup.html", secret=secret, qr=_qr_data_uri(uri))


@bp.post("/account/two-factor")
def two_factor_enable() -> str | Response:
    actor = current_actor()
    assert actor.user is not None
    secret = session.get(ENROLLING)
    if two_factor.is_enabled(actor.user) or not isinstance(secret, str):
        return _back(url_for("admin.two_factor_setup"))
    codes = two_factor.enable(
        get_session(),
        actor=actor,
        user=actor.user,
        secret=secret,
        code=request.form.get("code", ""),
        box=box_for(current_app.config),
    )
    if codes is None:
        flash(gettext("That code is not right. Check the phone's clock and type the current code."), "error")
        return _back(url_for("admin.two_factor_setup"))
    session.pop(ENROLLING, None)
    return render_template("admin/recovery_codes.html", codes=codes, enabled_now=True)


@bp.post("/account/two-factor/off")
def two_factor_off() -> Response:
    actor = current_actor()
    assert actor.user is not None
    if not two_factor.is_enabled(actor.user) or not _check_own_password(actor.user, "password"):
        return _back(url_for("admin.account"))
    user = get_session().get(User, actor.user.id)
    assert user is not None
    two_factor.disable(get_session(), actor=actor, user=user)
    flash(gettext("Two-factor login is off."), "ok")
    return _back(url_for("admin.account"))


@bp.post("/account/two-factor/recovery-codes")
def two_factor_new_codes() -> str | Response:
    actor = current_actor()
    assert actor.user is not None
    if not two_factor.is_enabled(actor.user) or not _check_own_password(actor.user, "password"):
        return _back(url_for("admin.account"))
    user = get_session().get(User, actor.user.id)
    assert user is not None
    codes = two_factor.regenerate_recovery_codes(get_session(), actor=actor, user=user)
    return render_template("admin/recovery_codes.html", codes=codes, enabled_now=False)


def start_second_step(user: User, next_url: str) -> Response:
    """The password was right and the person has two-factor login: remember who (for a few minutes, in
    the signed cookie of a not-yet-logged-in visitor) and ask for the code."""
    current = admin_sessions.current()
    locale = current.get("locale")
    if current.token is not None:
        admin_sessions.log_out(current)
    current.clear()
    current.ended = False
    if locale:
        current["locale"] = locale
    current[PENDING] = {"user": user.id, "at": int(time.time()), "next": next_url[:500]}
    return _back(url_for("admin.login_two_factor"))


def _pending() -> dict[str, object] | None:
    pending = session.get(PENDING)
    if not isinstance(pending, dict) or not isinstance(pending.get("user"), int):
        return None
    at = pending.get("at")
    if not isinstance(at, int) or time.time() - at > PENDING_SECONDS:
        return None
    return pending


@bp.route("/login/two-factor", methods=["GET", "POST"])
def login_two_factor() -> Response | str:
    from app.web.admin.auth import finish_login

    pending = _pending()
    if pending is None:
        if request.method == "POST":
            flash(gettext("The login took too long. Start again."), "error")
        return _back(url_for("admin.login"))
    if request.method == "GET":
        return render_template("admin/login_two_factor.html", error=None)
    db = get_session()
    user_id = pending["user"]
    assert isinstance(user_id, int)
    try:
        with password_attempt():
            user = db.get(User, user_id)
            if user is None or not user.is_active:
                raise AuthenticationFailedError()
            code = request.form.get("code", "")
            if two_factor.verify(db, user=user, code=code, box=box_for(current_app.config)) is None:
                raise AuthenticationFailedError()
    except AuthenticationFailedError:
        return Response(
            render_template(
                "admin/login_two_factor.html", error=gettext("That code is not right. Try the current one.")
            ),
            status=401,
        )
    next_url = pending.get("next")
    return finish_login(user, next_url if isinstance(next_url, str) else None)


@bp.route("/reset", methods=["GET", "POST"])
def reset_password() -> Response | str:
    """Set a new password with a one-time code from an administrator (no login needed)."""
    if request.method == "GET":
        return render_template(
            "admin/reset_password.html", code=request.args.get("code", "")[:64], error=None
        )
    code = request.form.get("code", "")[:64]
    new = request.form.get("new_password", "")
    reason = strong_enough(new, request.form.get("new_password_confirm", ""))
    if reason:
        return Response(render_template("admin/reset_password.html", code=code, error=reason), status=400)
    try:
        with password_attempt():
            password_resets.redeem(
                get_session(), code=code, password=new, realm=current_app.config["DIGEST_REALM"]
            )
    except AuthenticationFailedError:
        return Response(
            render_template(
                "admin/reset_password.html",
                code=code,
                error=gettext("This code is not valid: it may have been used already or have expired."),
            ),
            status=401,
        )
    flash(gettext("Your new password is set. Log in with it."), "ok")
    return _back(url_for("admin.login"))
