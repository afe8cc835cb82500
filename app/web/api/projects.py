"""Organisations, projects and project role assignments."""

from __future__ import annotations

from flask import Response, jsonify

from app.auth.actor import Actor
from app.db import commit, get_session
from app.errors import InvalidValueError, NotFoundError
from app.models import Organisation, Project, ProjectPartner
from app.services import accounts, partners, projects
from app.web.api import bp
from app.web.api.helpers import json_body, required
from app.web.api.serialise import organisation, project, ts, user
from app.web.auth import logged_in_actor


def project_for(actor: Actor, project_id: int, action: str) -> Project:
    """The project, once the actor is allowed ``action`` in it (404 for those with no role at all)."""
    return projects.project_for(get_session(), actor=actor, project_id=project_id, action=action)


@bp.get("/organisations")
def list_organisations() -> Response:
    actor = logged_in_actor()
    return jsonify([organisation(o) for o in projects.list_organisations(get_session(), actor=actor)])


@bp.post("/organisations")
def create_organisation() -> Response:
    actor = logged_in_actor()
    actor.require_admin()
    data = json_body()
    org = projects.create_organisation(
        get_session(), actor=actor, code=required(data, "code"), name=data.get("name") or ""
    )
    commit()
    return jsonify(organisation(org))


@bp.get("/projects")
def list_projects() -> Response:
    actor = logged_in_actor()
    return jsonify([project(p) for p in projects.list_projects(get_session(), actor=actor)])


@bp.post("/projects")
def create_project() -> Response:
    actor = logged_in_actor()
    actor.require_admin()
    data = json_body()
    session = get_session()
    org = projects.organisation_for_new_project(
        session, actor=actor, organisation_id=data.get("organisationId")
    )
    p = projects.create_project(
        session,
        actor=actor,
        organisation=org,
        name=required(data, "name"),
        description=data.get("description") or "",
        countries=data.get("countries") or [],
    )
    commit()
    return jsonify(project(p))


@bp.get("/projects/<int:project_id>")
def get_project(project_id: int) -> Response:
    actor = logged_in_actor()
    return jsonify(project(project_for(actor, project_id, "project.read")))


@bp.patch("/projects/<int:project_id>")
def update_project(project_id: int) -> Response:
    actor = logged_in_actor()
    p = project_for(actor, project_id, "project.update")
    data = json_body()
    renamed = {
        "name": "name",
        "description": "description",
        "countries": "countries",
        "indicatorsIncludeReceived": "indicators_include_received",
        "archived": "is_archived",
    }
    unknown = set(data) - set(renamed)
    if unknown:
        raise InvalidValueError(f"These project fields cannot be changed: {', '.join(sorted(unknown))}.")
    projects.update_project(
        get_session(), actor=actor, project=p, changes={renamed[k]: v for k, v in data.items()}
    )
    commit()
    return jsonify(project(p))


@bp.get("/projects/<int:project_id>/partners")
def list_partners(project_id: int) -> Response:
    """The organisations the project is shared with (its managers may see who they share rows beside)."""
    actor = logged_in_actor()
    p = project_for(actor, project_id, "project.roles")
    return jsonify([_partner_json(pp, o) for pp, o in partners.list_partners(get_session(), project=p)])


def _partner_json(pp: ProjectPartner, o: Organisation) -> dict[str, object]:
    return {"organisationId": o.id, "code": o.code, "name": o.name, "createdAt": ts(pp.created_at)}


@bp.post("/projects/<int:project_id>/partners")
def add_partner(project_id: int) -> Response:
    """Share the project with an organisation: its people, given roles, read only its rows."""
    actor = logged_in_actor()
    p = project_for(actor, project_id, "project.partners")
    session = get_session()
    added = partners.add_partner(
        session, actor=actor, project=p, organisation_id=required(json_body(), "organisationId")
    )
    commit()
    org = session.get(Organisation, added.organisation_id)
    assert org is not None
    return jsonify(_partner_json(added, org))


@bp.delete("/projects/<int:project_id>/partners/<int:organisation_id>")
def remove_partner(project_id: int, organisation_id: int) -> Response:
    """Stop sharing: the organisation's people read none of the project's rows from now on."""
    actor = logged_in_actor()
    p = project_for(actor, project_id, "project.partners")
    partners.remove_partner(get_session(), actor=actor, project=p, organisation_id=organisation_id)
    commit()
    return jsonify({"success": True})


@bp.get("/projects/<int:project_id>/assignments")
def list_assignments(project_id: int) -> Response:
    actor = logged_in_actor()
    p = project_for(actor, project_id, "project.roles")
    rows = accounts.list_roles(get_session(), project=p)
    return jsonify(
        [
            {"actorId": r.user_id, "role": r.role, "roleId": r.role, "maySeeSensitive": r.may_see_sensitive}
            for r in rows
        ]
    )


@bp.post("/projects/<int:project_id>/assignments/<role>/<int:user_id>")
def assign(project_id: int, role: str, user_id: int) -> Response:
    actor = logged_in_actor()
    p = project_for(actor, project_id, "project.roles")
    session = get_session()
    target = accounts.require_user(session, user_id)
    if not actor.is_admin and actor.user and target.organisation_id != actor.user.organisation_id:
        raise NotFoundError()
    accounts.assign_role(session, actor=actor, project=p, user=target, role=role)
    commit()
    return jsonify({"success": True, "user": user(target), "role": role})


@bp.delete("/projects/<int:project_id>/assignments/<role>/<int:user_id>")
def unassign(project_id: int, role: str, user_id: int) -> Response:
    actor = logged_in_actor()
    p = project_for(actor, project_id, "project.roles")
    session = get_session()
    target = accounts.require_user(session, user_id)
    if accounts.role_of(session, project=p, user=target) != role:
        raise NotFoundError(f"This user does not have the role {role!r} in this project.")
    accounts.assign_role(session, actor=actor, project=p, user=target, role=None)
    commit()
    return jsonify({"success": True})
