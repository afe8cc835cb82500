"""App users (device credentials) of a project."""

from __future__ import annotations

from flask import Response, jsonify

from app.db import get_session
from app.errors import InvalidValueError, NotFoundError
from app.services.accounts import app_users
from app.web.api import bodies, bp
from app.web.api.projects import project_for
from app.web.api.serialise import AppUserOut, app_user
from app.web.auth import logged_in_actor
from app.web.query import accepts, load_body, returns


@bp.get("/projects/<int:project_id>/app-users")
@returns(AppUserOut, many=True)
def list_app_users(project_id: int) -> Response:
    actor = logged_in_actor()
    p = project_for(actor, project_id, "app_user.list")
    return jsonify([app_user(a) for a in app_users.list_app_users(get_session(), project=p)])


@bp.post("/projects/<int:project_id>/app-users")
@returns(AppUserOut)
@accepts(bodies.NewAppUser)
def create_app_user(project_id: int) -> Response:
    actor = logged_in_actor()
    p = project_for(actor, project_id, "app_user.manage")
    data = load_body()
    forms = data.get("forms")
    issued = app_users.create_app_user(
        get_session(),
        actor=actor,
        project=p,
        display_name=data["displayName"],
        form_ids=forms,
        attributes=data.get("attributes"),
    )
    return jsonify(app_user(issued.app_user, issued.token) | {"qr": _onboarding(p.id, p.name, issued.token)})


@bp.patch("/projects/<int:project_id>/app-users/<int:app_user_id>")
@accepts(bodies.AppUserChanges)
def update_app_user(project_id: int, app_user_id: int) -> Response:
    """Set the app user's attributes (what entity lists with matchAttributes filter on)."""
    actor = logged_in_actor()
    p = project_for(actor, project_id, "app_user.manage")
    session = get_session()
    a = app_users.get_app_user(session, project=p, app_user_id=app_user_id)
    app_users.set_attributes(session, actor=actor, app_user=a, attributes=load_body()["attributes"])
    return jsonify(app_user(a))


@bp.delete("/projects/<int:project_id>/app-users/<int:app_user_id>")
def revoke_app_user(project_id: int, app_user_id: int) -> Response:
    actor = logged_in_actor()
    p = project_for(actor, project_id, "app_user.manage")
    session = get_session()
    a = app_users.get_app_user(session, project=p, app_user_id=app_user_id)
    app_users.revoke_app_user(session, actor=actor, app_user=a)
    return jsonify({"success": True})


# Central's role id of app users is 2 (pyodk's create_app_users posts to .../assignments/2/{id}).
APP_USER_ROLES = {"app-user", "2"}


@bp.post("/projects/<int:project_id>/forms/<xml_form_id>/assignments/<role_id>/<int:app_user_id>")
def assign_form_to_app_user(project_id: int, xml_form_id: str, role_id: str, app_user_id: int) -> Response:
    actor = logged_in_actor()
    p = project_for(actor, project_id, "app_user.manage")
    if role_id not in APP_USER_ROLES:
        raise NotFoundError(
            "Forms are assigned to app users only: use the role app-user (Central's role id 2)."
        )
    session = get_session()
    a = app_users.get_app_user(session, project=p, app_user_id=app_user_id)
    current = [] if a.all_forms else app_users.form_ids_of(session, a)
    if xml_form_id not in current:
        current.append(xml_form_id)
    app_users.set_app_user_forms(session, actor=actor, app_user=a, xml_form_ids=current)
    return jsonify({"success": True})


def _onboarding(project_id: int, project_name: str, token: str) -> dict[str, object]:
    from flask import current_app, request

    from sync.qr import collect_settings, encode_settings

    base = (current_app.config.get("BASE_URL") or request.host_url).rstrip("/")
    server_url = f"{base}/v1/key/{token}/projects/{project_id}"
    settings = collect_settings(server_url, project_name=project_name)
    return {"serverUrl": server_url, "settings": settings, "payload": encode_settings(settings)}


@bp.post("/projects/<int:project_id>/app-users/<int:app_user_id>/qr")
@bp.post("/projects/<int:project_id>/app-users/<int:app_user_id>/qr.<fmt>")
def app_user_qr(project_id: int, app_user_id: int, fmt: str = "json") -> Response:
    """Onboard a phone: a new token (the old one stops working) as Collect settings JSON, PNG or SVG.

    Tokens are stored hashed, so a QR code can only be made together with a new token.
    """
    from sync.qr import qr_png, qr_svg

    if fmt not in {"json", "png", "svg"}:
        raise InvalidValueError("The QR code comes as .png, .svg or JSON.")
    actor = logged_in_actor()
    p = project_for(actor, project_id, "app_user.manage")
    session = get_session()
    a = app_users.get_app_user(session, project=p, app_user_id=app_user_id)
    token = app_users.reissue_token(session, actor=actor, app_user=a)
    info = _onboarding(project_id, p.name, token)
    if fmt == "png":
        return Response(qr_png(str(info["payload"])), mimetype="image/png")
    if fmt == "svg":
        return Response(qr_svg(str(info["payload"])), mimetype="image/svg+xml")
    return jsonify({"token": token, **info})
