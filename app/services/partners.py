"""Sharing a project with partner organisations: list, add and remove partners, and grant or revoke a
coordinator's sight of the raw rows (all audited).

Only the project's owners (its organisation's managers) and the administrator share it: a partner's
manager manages its own people's roles, never who else the project is shared with. Which rows a
partner's people then read is ``row_access``'s business.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.auth.policy import COORDINATOR
from app.db import utcnow
from app.errors import AlreadyExistsError, ForbiddenError, InvalidValueError, NotFoundError
from app.models import Organisation, Project, ProjectPartner, ProjectRole
from app.services.audit import events as audit
from app.services.protection import classification, row_access


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
    session: Session,
    *,
    actor: Actor,
    project: Project,
    organisation_id: object,
    share_class: str | None = None,
) -> ProjectPartner:
    """``share_class``: the class the partner will hold the project's data at, refused when below the
    class of the project's microdata (``403.60``), as an export's is."""
    _require_owner(session, actor, project)
    classification.check_project_share(session, project.id, share_class, what="project's microdata")
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
        details={"code": org.code, "shareClass": share_class},
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


def row_grants(session: Session, *, actor: Actor, project: Project) -> list[ProjectRole]:
    """The project's coordinator assignments, granted or not (the grant is ``rows_granted_at``); the
    owners' business, like the grant itself."""
    _require_owner(session, actor, project)
    return list(
        session.scalars(
            sa.select(ProjectRole)
            .where(ProjectRole.project_id == project.id, ProjectRole.role == COORDINATOR)
            .order_by(ProjectRole.user_id)
        )
    )


def _coordinator(session: Session, project: Project, user_id: int) -> ProjectRole:
    role = session.scalar(
        sa.select(ProjectRole).where(
            ProjectRole.project_id == project.id,
            ProjectRole.user_id == user_id,
            ProjectRole.role == COORDINATOR,
        )
    )
    if role is None:
        raise NotFoundError(
            "This person is not a coordinator of the project; give them the coordinator role first."
        )
    return role


def set_row_grant(
    session: Session, *, actor: Actor, project: Project, user_id: int, granted: bool
) -> ProjectRole:
    """Grant (or revoke) one coordinator the project's raw rows, every partner's: an explicit decision
    of the project's owners, audited either way. The row filter checks the grant in every query, so a
    revocation hides the rows at once; a role change clears it (``accounts.assign_role``)."""
    _require_owner(session, actor, project)
    role = _coordinator(session, project, user_id)
    before = role.rows_granted_at is not None
    if before == granted:
        return role
    role.rows_granted_at = utcnow() if granted else None
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="project.rows.grant" if granted else "project.rows.revoke",
        project_id=project.id,
        subject_type="user",
        subject_id=user_id,
        details={"role": COORDINATOR},
    )
    return role
