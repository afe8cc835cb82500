"""Organisations, projects and project role assignments."""

from __future__ import annotations

from flask import Response, jsonify

from app.auth.actor import Actor
from app.db import get_session
from app.errors import NotFoundError
from app.models import Organisation, Project, ProjectPartner, ProjectRole
from app.services import partners, projects
from app.services.accounts import people as accounts
from app.web.api import bodies, bp
from app.web.api.serialise import OrganisationOut, ProjectOut, organisation, project, ts, user
from app.web.auth import logged_in_actor
from app.web.query import accepts, load_body, returns


def project_for(actor: Actor, project_id: int, action: str) -> Project:
    """The project, once the actor is allowed ``action`` in it (404 for those with no role at all)."""
    return projects.project_for(get_session(), actor=actor, project_id=project_id, action=action)


@bp.get("/organisations")
@returns(OrganisationOut, many=True)
def list_organisations() -> Response:
    actor = logged_in_actor()
    return jsonify([organisation(o) for o in projects.list_organisations(get_session(), actor=actor)])


@bp.post("/organisations")
@returns(OrganisationOut)
@accepts(bodies.NewOrganisation)
def create_organisation() -> Response:
    actor = logged_in_actor()
    actor.require_admin()
    data = load_body()
    org = projects.create_organisation(
        get_session(), actor=actor, code=data["code"], name=data.get("name") or ""
    )
    return jsonify(organisation(org))


@bp.get("/projects")
@returns(ProjectOut, many=True)
def list_projects() -> Response:
    actor = logged_in_actor()
    return jsonify([project(p) for p in projects.list_projects(get_session(), actor=actor)])


@bp.post("/projects")
@returns(ProjectOut)
@accepts(bodies.NewProject)
def create_project() -> Response:
    actor = logged_in_actor()
    actor.require_admin()
    data = load_body()
    session = get_session()
    org = projects.organisation_for_new_project(
        session, actor=actor, organisation_id=data.get("organisationId")
    )
    p = projects.create_project(
        session,
        actor=actor,
        organisation=org,
        name=data["name"],
        description=data.get("description") or "",
        countries=data.get("countries") or [],
    )
    return jsonify(project(p))


@bp.get("/projects/<int:project_id>")
@returns(ProjectOut)
def get_project(project_id: int) -> Response:
    actor = logged_in_actor()
    return jsonify(project(project_for(actor, project_id, "project.read")))


@bp.patch("/projects/<int:project_id>")
@returns(ProjectOut)
@accepts(bodies.ProjectChanges)
def update_project(project_id: int) -> Response:
    actor = logged_in_actor()
    p = project_for(actor, project_id, "project.update")
    data = load_body()
    renamed = {
        "name": "name",
        "description": "description",
        "countries": "countries",
        "indicatorsIncludeReceived": "indicators_include_received",
        "archived": "is_archived",
    }
    projects.update_project(
        get_session(), actor=actor, project=p, changes={renamed[k]: v for k, v in data.items()}
    )
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
@accepts(bodies.Partner)
def add_partner(project_id: int) -> Response:
    """Share the project with an organisation: its people, given roles, read only its rows."""
    actor = logged_in_actor()
    p = project_for(actor, project_id, "project.partners")
    session = get_session()
    body = load_body()
    added = partners.add_partner(
        session,
        actor=actor,
        project=p,
        organisation_id=body["organisationId"],
        share_class=body.get("shareClass") or None,
    )
    org = session.get(Organisation, added.organisation_id)
    assert org is not None
    return jsonify(_partner_json(added, org))


@bp.delete("/projects/<int:project_id>/partners/<int:organisation_id>")
def remove_partner(project_id: int, organisation_id: int) -> Response:
    """Stop sharing: the organisation's people read none of the project's rows from now on."""
    actor = logged_in_actor()
    p = project_for(actor, project_id, "project.partners")
    partners.remove_partner(get_session(), actor=actor, project=p, organisation_id=organisation_id)
    return jsonify({"success": True})


ROW_GRANTS = "/projects/<int:project_id>/row-grants"


def _grant_json(r: ProjectRole) -> dict[str, object]:
    return {"actorId": r.user_id, "role": r.role, "granted": r.rows_granted_at is not None} | {
        "grantedAt": ts(r.rows_granted_at) if r.rows_granted_at is not None else None
    }


@bp.get(ROW_GRANTS)
def list_row_grants(project_id: int) -> Response:
    """The project's coordinators and whether each was granted the raw rows of every partner."""
    actor = logged_in_actor()
    p = project_for(actor, project_id, "project.partners")
    return jsonify([_grant_json(r) for r in partners.row_grants(get_session(), actor=actor, project=p)])


@bp.put(f"{ROW_GRANTS}/<int:user_id>")
def grant_rows(project_id: int, user_id: int) -> Response:
    """Grant one coordinator the project's raw rows (audited; the owners' decision)."""
    actor = logged_in_actor()
    p = project_for(actor, project_id, "project.partners")
    r = partners.set_row_grant(get_session(), actor=actor, project=p, user_id=user_id, granted=True)
    return jsonify(_grant_json(r))


@bp.delete(f"{ROW_GRANTS}/<int:user_id>")
def revoke_rows(project_id: int, user_id: int) -> Response:
    """Withdraw the grant: the coordinator reads indicators only, from the next request on."""
    actor = logged_in_actor()
    p = project_for(actor, project_id, "project.partners")
    r = partners.set_row_grant(get_session(), actor=actor, project=p, user_id=user_id, granted=False)
    return jsonify(_grant_json(r))


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
    return jsonify({"success": True})
