"""Devices and enumerators: who synced when, what they sent, revoking a device credential, and the QR
code that sets up a (replacement) phone."""

from __future__ import annotations

import base64

from flask import Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from sqlalchemy import select

from app.db import get_session
from app.models import AppUser
from app.services.accounts import app_users
from app.services.protection import row_access
from app.services.publishing import versions as form_service
from app.services.submissions import counts as submission_counts
from app.web.admin import bp
from app.web.admin.context import current_actor, project_for, project_menu
from sync.qr import collect_settings, encode_settings, qr_png


@bp.get("/projects/<int:project_id>/devices")
def devices(project_id: int) -> str:
    actor = current_actor()
    p = project_for(actor, project_id, "app_user.list")
    db = get_session()
    activity = submission_counts.project_activity(
        db, project_id=p.id, rows=row_access.visible_rows(db, actor, p)
    )
    scopes = {
        a.id: (a.all_forms, {link.form_id for link in a.forms})
        for a in db.scalars(select(AppUser).where(AppUser.project_id == p.id))
    }
    return render_template(
        "admin/devices.html",
        project=p,
        project_forms=[f for f in form_service.list_forms(db, project=p) if not f.is_archived],
        scopes=scopes,
        may_manage=actor.can(db, "app_user.manage", p.id),
        credentials=activity.credentials,
        people=activity.people,
        phones=activity.phones,
        project_menu=project_menu(p, "admin.devices"),
    )


@bp.post("/projects/<int:project_id>/devices/<int:app_user_id>/forms")
def device_forms(project_id: int, app_user_id: int) -> Response:
    """Which forms a device may download and fill in: all of the project's, or the ones ticked."""
    actor = current_actor()
    p = project_for(actor, project_id, "app_user.manage")
    db = get_session()
    a = app_users.get_app_user(db, project=p, app_user_id=app_user_id)
    if request.form.get("scope") == "all":
        app_users.allow_all_forms(db, actor=actor, app_user=a)
    else:
        app_users.set_app_user_forms(db, actor=actor, app_user=a, xml_form_ids=request.form.getlist("forms"))
    flash(gettext("Forms of device %(name)s saved.", name=a.display_name), "ok")
    return redirect(url_for("admin.devices", project_id=p.id), code=303)  # type: ignore[return-value]


@bp.post("/projects/<int:project_id>/devices/<int:app_user_id>/revoke")
def revoke_device(project_id: int, app_user_id: int) -> Response:
    actor = current_actor()
    p = project_for(actor, project_id, "app_user.manage")
    db = get_session()
    a = app_users.get_app_user(db, project=p, app_user_id=app_user_id)
    app_users.revoke_app_user(db, actor=actor, app_user=a)
    flash(
        gettext("Device %(name)s revoked: it can no longer download forms or send.", name=a.display_name),
        "ok",
    )
    return redirect(url_for("admin.devices", project_id=p.id), code=303)  # type: ignore[return-value]


def _qr_page(project_name: str, project_id: int, display_name: str, token: str) -> str:
    base = (current_app.config.get("BASE_URL") or request.host_url).rstrip("/")
    server_url = f"{base}/v1/key/{token}/projects/{project_id}"
    payload = encode_settings(collect_settings(server_url, project_name=project_name))
    png = base64.b64encode(qr_png(payload)).decode()
    return render_template(
        "admin/device_qr.html", name=display_name, server_url=server_url, png=png, project_id=project_id
    )


@bp.post("/projects/<int:project_id>/devices")
def create_device(project_id: int) -> str:
    actor = current_actor()
    p = project_for(actor, project_id, "app_user.manage")
    issued = app_users.create_app_user(
        get_session(), actor=actor, project=p, display_name=request.form.get("display_name", "")
    )
    return _qr_page(p.name, p.id, issued.app_user.display_name, issued.token)


@bp.post("/projects/<int:project_id>/devices/<int:app_user_id>/qr")
def device_qr(project_id: int, app_user_id: int) -> str:
    """A new token for this credential (a replacement phone); the old phone's token stops working."""
    actor = current_actor()
    p = project_for(actor, project_id, "app_user.manage")
    db = get_session()
    a = app_users.get_app_user(db, project=p, app_user_id=app_user_id)
    token = app_users.reissue_token(db, actor=actor, app_user=a)
    return _qr_page(p.name, p.id, a.display_name, token)
