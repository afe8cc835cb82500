"""Field hubs in the JSON API.

Managers of the central project: list hubs (last sync, counts), issue a credential (shown once),
revoke it. A hub (``Authorization: Hub <credential>``), or anyone who may read the project's forms:
who am I, the project's published forms with all their versions and media, and their bytes; never
anything outside that one project.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from app.auth.actor import Actor
from app.db import get_session
from app.models import Hub
from app.services.hubs import central as hub_service
from app.services.protection import row_access
from app.web.api import bodies, bp
from app.web.api.projects import project_for
from app.web.api.serialise import ts
from app.web.auth import logged_in_actor
from app.web.blob_download import blob_response
from app.web.query import accepts, load_body

BASE = "/projects/<int:project_id>"


def hub_or_user_actor() -> Actor:
    """A hub (``Authorization: Hub <credential>``) or a logged-in user."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "hub":
        return hub_service.hub_actor_for_token(get_session(), value.strip())
    return logged_in_actor()


def hub_json(h: Hub, token: str | None = None, **extra: Any) -> dict[str, Any]:
    out = {
        "id": h.id,
        "projectId": h.project_id,
        "name": h.name,
        "createdAt": ts(h.created_at),
        "revokedAt": ts(h.revoked_at),
        "lastSyncAt": ts(h.last_sync_at),
        "batches": h.batches_received,
    } | extra
    if token is not None:
        out["token"] = token
    return out


@bp.get(BASE + "/hubs")
def list_hubs(project_id: int) -> Response:
    """The hubs of a project with their last sync and counts."""
    actor = logged_in_actor()
    project = project_for(actor, project_id, "hub.manage")
    return jsonify(
        [
            hub_json(s.hub, submissions=s.submissions, lastSubmissionAt=ts(s.last_submission_at))
            for s in hub_service.list_hubs(
                get_session(), project=project, rows=row_access.visible_rows(get_session(), actor, project)
            )
        ]
    )


@bp.post(BASE + "/hubs")
@accepts(bodies.NewHub)
def issue_hub(project_id: int) -> Response:
    """Issue a hub credential for this project (the token is shown once)."""
    actor = logged_in_actor()
    project = project_for(actor, project_id, "hub.manage")
    body = load_body()
    issued = hub_service.issue_hub(
        get_session(),
        actor=actor,
        project=project,
        name=body["name"],
        share_class=body.get("shareClass") or None,
    )
    return jsonify(hub_json(issued.hub, issued.token))


@bp.delete(BASE + "/hubs/<int:hub_id>")
def revoke_hub(project_id: int, hub_id: int) -> Response:
    """Revoke a hub credential."""
    actor = logged_in_actor()
    project = project_for(actor, project_id, "hub.manage")
    session = get_session()
    hub = hub_service.revoke_hub(
        session, actor=actor, hub=hub_service.get_hub(session, project=project, hub_id=hub_id)
    )
    return jsonify(hub_json(hub))


@bp.get(BASE + "/hub")
def hub_whoami(project_id: int) -> Response:
    """The project and the hub a credential belongs to."""
    actor = hub_or_user_actor()
    project = project_for(actor, project_id, "form.list")
    hub = getattr(actor, "hub", None)
    return jsonify(
        {
            "project": {"id": project.id, "name": project.name},
            "hub": hub_json(hub) if hub is not None else None,
        }
    )


@bp.get(BASE + "/hub/forms")
def hub_forms(project_id: int) -> Response:
    """Published forms of the project with every published version and its media, for hubs."""
    actor = hub_or_user_actor()
    project = project_for(actor, project_id, "form.list")
    return jsonify(hub_service.form_catalogue(get_session(), project=project))


@bp.get(BASE + "/hub/forms/<xml_form_id>/versions/<sha256>.xml")
def hub_form_version_xml(project_id: int, xml_form_id: str, sha256: str) -> Response:
    """The exact XForm bytes of one published version."""
    actor = hub_or_user_actor()
    project = project_for(actor, project_id, "form.read")
    xml = hub_service.form_version_xml(get_session(), project=project, xml_form_id=xml_form_id, sha256=sha256)
    return Response(xml, mimetype="text/xml")


@bp.get(BASE + "/hub/media/<sha256>")
def hub_media(project_id: int, sha256: str) -> Response:
    """A media file of one of the project's published forms, by sha256."""
    actor = hub_or_user_actor()
    project = project_for(actor, project_id, "form.read")
    blob = hub_service.form_media_blob(get_session(), project=project, sha256=sha256)
    return blob_response(
        blob.sha256,
        mimetype=blob.content_type or "application/octet-stream",
        size=blob.size,
        etag=blob.sha256,
    )
