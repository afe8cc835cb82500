"""Sharing a project with partner organisations: list, add and remove partners (audited).

Only the project's owners (its organisation's managers) and the administrator share it: a partner's
manager manages its own people's roles, never who else the project is shared with. Which rows a
partner's people then read is ``row_access``'s business.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.errors import AlreadyExistsError, ForbiddenError, InvalidValueError, NotFoundError
from app.models import Organisation, Project, ProjectPartner
from app.services.audit import events as audit
from app.services.protection import row_access


def list_partners(session: Session, *, project: Project) -> list[tuple[ProjectPartner, Organisation]]:
    rows = session.execute(
        sa.select(ProjectPartner, Organisation)
        .join(Organisation, Organisation.id == ProjectPartner.organisation_id)
        .where(ProjectPartner.project_id == project.id)
        .order_by(Organisation.code)
    )
    return [(p, o) for p, o in rows]


def _require_owner(session: Session, actor: Actor, project: Project) -> None:
    actor.require(session, "project.partners", project)
    if not row_access.sees_all_rows(session, actor, project):
        raise ForbiddenError("Only the project's own organisation shares it with partners.")


def add_partner(
    session: Session, *, actor: Actor, project: Project, organisation_id: object
) -> ProjectPartner:
    _require_owner(session, actor, project)
    org = session.get(Organisation, organisation_id) if type(organisation_id) is int else None
    if org is None:
        raise InvalidValueError(
            "organisationId must name an existing organisation (GET /v1/organisations lists them).",
            details={"field": "organisationId"},
        )
    if org.id == project.organisation_id:
        raise InvalidValueError(
            "The project already belongs to this organisation; a partner is another organisation.",
            details={"field": "organisationId"},
        )
    if row_access.is_partner(session, project, org.id):
        raise AlreadyExistsError(f"The project is already shared with {org.code}.")
    partner = ProjectPartner(project_id=project.id, organisation_id=org.id, created_by_id=actor.user_id)
    session.add(partner)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="project.partner.add",
        project_id=project.id,
        subject_type="organisation",
        subject_id=org.id,
        details={"code": org.code},
    )
    return partner


def remove_partner(session: Session, *, actor: Actor, project: Project, organisation_id: int) -> None:
    """The organisation's people keep their roles but read no row of the project from now on (the row
    filter checks the partnership in every query)."""
    _require_owner(session, actor, project)
    partner = session.scalar(
        sa.select(ProjectPartner).where(
            ProjectPartner.project_id == project.id, ProjectPartner.organisation_id == organisation_id
        )
    )
    if partner is None:
        raise NotFoundError(f"The project is not shared with organisation {organisation_id}.")
    session.delete(partner)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="project.partner.remove",
        project_id=project.id,
        subject_type="organisation",
        subject_id=organisation_id,
    )
