"""Field hubs of a project: when each last synced and what it sent, issuing a hub credential (shown
once) and revoking one. Same services and access rule (``hub.manage``) as the JSON API. On a Ruta that
is itself a hub of this project, the page also shows its link: last sync, backlog, measured rate."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext

from app.db import get_session
from app.models import Project
from app.services.hubs import central as hub_service
from app.services.hubs import link as hub_link
from app.services.protection import row_access
from app.web.admin import bp
from app.web.admin.context import add_project_menu_item, current_actor, project_for, project_menu

add_project_menu_item("admin.hubs", "Field hubs")


def _page(p: Project, *, new_token: str | None = None, new_name: str | None = None) -> str:
    return render_template(
        "admin/hubs.html",
        project=p,
        hubs=hub_service.list_hubs(
            get_session(), project=p, rows=row_access.visible_rows(get_session(), current_actor(), p)
        ),
        link=hub_link.link_status(get_session(), project_id=p.id),
        new_token=new_token,
        new_name=new_name,
        central_url=request.host_url.rstrip("/"),
        project_menu=project_menu(p, "admin.hubs"),
    )


@bp.get("/projects/<int:project_id>/hubs")
def hubs(project_id: int) -> str:
    return _page(project_for(current_actor(), project_id, "hub.manage"))


@bp.post("/projects/<int:project_id>/hubs")
def issue_hub(project_id: int) -> str:
    actor = current_actor()
    p = project_for(actor, project_id, "hub.manage")
    issued = hub_service.issue_hub(get_session(), actor=actor, project=p, name=request.form.get("name", ""))
    return _page(p, new_token=issued.token, new_name=issued.hub.name)


@bp.post("/projects/<int:project_id>/hubs/<int:hub_id>/revoke")
def revoke_hub(project_id: int, hub_id: int) -> Response:
    actor = current_actor()
    p = project_for(actor, project_id, "hub.manage")
    db = get_session()
    hub = hub_service.revoke_hub(db, actor=actor, hub=hub_service.get_hub(db, project=p, hub_id=hub_id))
    flash(gettext("Hub %(name)s revoked: it can no longer sync.", name=hub.name), "ok")
    return redirect(url_for("admin.hubs", project_id=p.id), code=303)  # type: ignore[return-value]
