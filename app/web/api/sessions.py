"""Sessions and the current user: POST /v1/sessions, DELETE /v1/sessions/{token}, /v1/users, and
PUT /v1/users/{id}/password."""

from __future__ import annotations

from datetime import timedelta

from flask import Response, current_app, g, jsonify

from app.auth.secret_box import box_for
from app.db import get_session
from app.errors import ForbiddenError, NotFoundError
from app.services.accounts import people as accounts
from app.services.accounts import two_factor
from app.web.api import bodies, bp
from app.web.api.serialise import UserOut, ts, user
from app.web.auth import api_actor, logged_in_actor
from app.web.login_guard import password_attempt
from app.web.query import accepts, load_body, returns


@bp.post("/sessions")
@accepts(bodies.Login)
def create_session() -> tuple[Response, int]:
    data = load_body()
    email, password = data["email"], data["password"]
    session = get_session()
    with password_attempt():
        u = accounts.authenticate(session, email=email, password=password)
        two_factor.second_step(session, user=u, code=data.get("code"), box=box_for(current_app.config))
    issued = accounts.create_session(
        session, user=u, ttl=timedelta(hours=current_app.config["SESSION_TTL_HOURS"])
    )
    return jsonify(
        {"token": issued.token, "createdAt": ts(issued.created_at), "expiresAt": ts(issued.expires_at)}
    ), 200


@bp.delete("/sessions/<token>")
def end_session(token: str) -> Response:
    actor = logged_in_actor()
    assert actor.user is not None
    if not accounts.end_session(get_session(), user=actor.user, token=token):
        raise NotFoundError("No such session of yours.")
    return jsonify({"success": True})


@bp.put("/users/<int:user_id>/password")
@accepts(bodies.PasswordChange)
def change_password(user_id: int) -> Response:
    """Central's ``{"old", "new"}``: a person changes their own password. Every other session of theirs
    ends (bearer tokens and admin logins); the bearer token that asked, if any, stays."""
    actor = logged_in_actor()
    assert actor.user is not None
    if actor.user.id != user_id:
        raise ForbiddenError("A password can only be changed by the person it belongs to.")
    data = load_body()
    old, new = data["old"], data["new"]
    session = get_session()
    with password_attempt():
        accounts.authenticate(session, email=actor.user.email, password=old)
    accounts.change_password(
        session,
        actor=actor,
        user=actor.user,
        password=new,
        realm=current_app.config["DIGEST_REALM"],
        keep_token=g.get("bearer_token"),
    )
    return jsonify({"success": True})


@bp.get("/users/current")
@returns(UserOut)
def current_user() -> Response:
    actor = logged_in_actor()
    assert actor.user is not None  # app users cannot use the JSON API
    out = user(actor.user)
    out["roles"] = [
        {"projectId": pid, "role": role} for pid, role in sorted(actor.roles(get_session()).items())
    ]
    return jsonify(out)


@bp.get("/users")
@returns(UserOut, many=True)
def list_users() -> Response:
    actor = logged_in_actor()
    session = get_session()
    assert actor.user is not None
    if actor.is_admin:
        rows = accounts.list_users(session, organisation_id=None)
    else:
        # Others see the people of their own organisation, which they need to assign roles.
        rows = (
            accounts.list_users(session, organisation_id=actor.user.organisation_id)
            if actor.user.organisation_id
            else [actor.user]
        )
    return jsonify([user(u) for u in rows])


@bp.post("/users")
@returns(UserOut)
@accepts(bodies.NewUser)
def create_user() -> tuple[Response, int]:
    actor = api_actor()
    actor.require_admin()
    data = load_body()
    session = get_session()
    u = accounts.create_user(
        session,
        actor=actor,
        email=data["email"],
        password=data.get("password"),
        realm=current_app.config["DIGEST_REALM"],
        display_name=data.get("displayName") or "",
        organisation_id=data.get("organisationId"),
        is_admin=bool(data.get("isAdmin")),
    )
    return jsonify(user(u)), 200
