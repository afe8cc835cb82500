"""Which submission rows a reader may see: the one row filter every read path applies, in SQL.

A project belongs to one organisation and may be shared with partner organisations
(``project_partners``). Every submission records the organisation it was collected for. Then:

- the system administrator, and the people of the owning organisation, see every row;
- a person of a partner organisation sees only the rows collected for that organisation, and only
  while the organisation is still a partner (checked when the filter is built, once per request);
- a coordinator sees no raw row (indicators only) unless one of the project's owners granted them
  the project's rows (``project_roles.rows_granted_at``, checked in the query itself; revoking it hides
  the rows at once); nor does a device or hub credential, nor anyone without a role in the project:
  the filter is ``false`` and the rows simply are not there (404).

People of no organisation (accounts only the administrator makes and assigns) fail closed: in a
project shared with partners they are neither the owner's nor a partner's, so they read no row, no
figure, and collect nothing (403); only in a project shared with nobody, where every row is the
owner's anyway, do they read and collect as before. The sharing is checked in the query itself, so
sharing a project hides its rows from them at once. Likewise a person of an organisation that is no
longer a partner collects nothing (never silently for the owner). docs/DATA-RESPONSIBILITY.md.

Indicators follow the same rule (``figure_rows``): owners, the administrator and coordinators read
figures over every row, a partner's people figures over their organisation's rows only; suppression
applies to all of them alike.

``visible_rows`` is the single place the rule lives; a read path that needs another condition on which
rows exist (for example the trash of deleted rows) adds it here, so no path can miss it.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.auth.policy import COORDINATOR
from app.errors import ForbiddenError, NotFoundError
from app.models import Entity, Form, Project, ProjectPartner, ProjectRole, Submission


def visible_rows(
    session: Session, actor: Actor, project: Project, column: Any = Submission.organisation_id
) -> ColumnElement[bool]:
    """The condition on ``submissions`` (its columns, ORM or Core) that keeps only ``actor``'s rows.
    ``column``: the organisation column of another table holding rows collected for an organisation
    (an entity list's ``entities.organisation_id``), under the same rule."""
    if actor.is_admin:
        return sa.true()
    if actor.user is None:
        return sa.false()
    role = actor.role_in(session, project.id)
    if role is None:
        return sa.false()
    if role == COORDINATOR:
        return (
            sa.select(ProjectRole.id)
            .where(
                ProjectRole.project_id == project.id,
                ProjectRole.user_id == actor.user.id,
                ProjectRole.role == COORDINATOR,
                ProjectRole.rows_granted_at.is_not(None),
            )
            .exists()
        )
    org = actor.user.organisation_id
    # Ownership and partnership are settled here, not in the query: the condition left is ``true``,
    # ``false`` or one column comparison, which the table's indexes serve (an OR of EXISTS subqueries
    # made every count and page read each row from the heap). The filter is built once per request, so
    # sharing or unsharing a project takes effect on the next request.
    if org is None:
        return sa.false() if is_shared(session, project) else sa.true()
    if org == project.organisation_id:
        return sa.true()
    if not is_partner(session, project, org):
        return sa.false()
    return column == org


def is_shared(session: Session, project: Project) -> bool:
    return session.scalar(sa.select(_shared(project))) is True


def _shared(project: Project) -> ColumnElement[bool]:
    return sa.select(ProjectPartner.id).where(ProjectPartner.project_id == project.id).exists()


def _own_or_partner(project: Project, org: int, column: Any) -> ColumnElement[bool]:
    """Every row for the owning organisation; a partner's own rows while it is still a partner."""
    owner = sa.select(Project.id).where(Project.id == project.id, Project.organisation_id == org).exists()
    partner = (
        sa.select(ProjectPartner.id)
        .where(ProjectPartner.project_id == project.id, ProjectPartner.organisation_id == org)
        .exists()
    )
    return sa.or_(owner, sa.and_(column == org, partner))


def visible_entities(session: Session, actor: Actor, project: Project) -> ColumnElement[bool]:
    """The condition on ``entities``: an entity is its creating organisation's row (the submission's,
    or the person's who created it through the API), read under ``visible_rows``' rule; a device reads
    what its organisation may (the owner's devices every entity, a partner's its own). An entity of no
    recorded organisation is the owners' only: fail closed."""
    if actor.app_user is not None:
        org = actor.app_user.organisation_id
        if actor.app_user.project_id != project.id or org is None:
            return sa.false()
        return _own_or_partner(project, org, Entity.organisation_id)
    return visible_rows(session, actor, project, Entity.organisation_id)


def visible_rows_of(session: Session, actor: Actor, projects: list[Project]) -> ColumnElement[bool]:
    """The filter over several projects' rows at once, for a query that joins ``forms``."""
    if not projects:
        return sa.false()
    return sa.or_(*(sa.and_(Form.project_id == p.id, visible_rows(session, actor, p)) for p in projects))


def require_row(session: Session, actor: Actor, project: Project, submission_id: int) -> None:
    """404 unless the row is one ``actor`` may see (the same filter, on the one row)."""
    found = session.scalar(
        sa.select(Submission.id).where(Submission.id == submission_id, visible_rows(session, actor, project))
    )
    if found is None:
        raise NotFoundError()


def sees_all_rows(session: Session, actor: Actor, project: Project) -> bool:
    """Whether the filter lets every row of the project through (owners and the administrator): a
    figure computed over the whole project (indicators, counts) may then be shown."""
    if actor.is_admin:
        return True
    if actor.user is None or actor.role_in(session, project.id) in (None, COORDINATOR):
        return False
    org = actor.user.organisation_id
    if org is None:
        return not session.scalar(sa.select(_shared(project)))
    return org == project.organisation_id


def figure_rows(session: Session, actor: Actor, project: Project) -> ColumnElement[bool] | None:
    """The rows ``actor``'s indicator figures are computed over: None for every row of the project
    (owners, the administrator, coordinators: the figures of every partner, suppressed as always), else
    the row filter itself, so a partner's people read figures over their organisation's rows only. One
    rule with the raw rows, so no figure counts a row its reader could not see, fail-closed the same way
    (no role, no row)."""
    if sees_all_rows(session, actor, project) or actor.role_in(session, project.id) == COORDINATOR:
        return None
    return visible_rows(session, actor, project)


def reads_raw_values(session: Session, actor: Actor, project: Project) -> bool:
    """Whether raw answers of every partner may be shown beside the figures (the unmapped-values
    queue quotes answers): owners, the administrator and a coordinator granted the rows."""
    if sees_all_rows(session, actor, project):
        return True
    return actor.role_in(session, project.id) == COORDINATOR and actor.has_row_grant(session, project.id)


def reads_foreign_rows(session: Session, actor: Actor, project: Project, form_id: int) -> bool:
    """Whether ``actor``, not of the owning organisation, may read rows of the form another
    organisation collected (a coordinator granted the rows): reads that hand such rows over go
    through the microdata risk check (``disclosure.guard``), or are refused where it cannot run."""
    if sees_all_rows(session, actor, project):
        return False
    org = actor.user.organisation_id if actor.user is not None else None
    query = sa.select(Submission.id).where(
        Submission.form_id == form_id,
        Submission.deleted_at.is_(None),
        visible_rows(session, actor, project),
    )
    if org is not None:
        query = query.where(Submission.organisation_id != org)
    return session.scalar(query.limit(1)) is not None


def scope_label(session: Session, actor: Actor, project: Project, *, figures: bool = False) -> str:
    """Which rows a read covered, for its audit event."""
    if sees_all_rows(session, actor, project):
        return "all"
    if actor.role_in(session, project.id) == COORDINATOR:
        if figures:
            return "all"
        return "all (coordinator grant)" if actor.has_row_grant(session, project.id) else "none"
    return "own organisation"


def is_partner(session: Session, project: Project, organisation_id: int | None) -> bool:
    if organisation_id is None:
        return False
    return (
        session.scalar(
            sa.select(ProjectPartner.id).where(
                ProjectPartner.project_id == project.id, ProjectPartner.organisation_id == organisation_id
            )
        )
        is not None
    )


def credential_organisation(session: Session, *, actor: Actor | None, project: Project) -> int:
    """The organisation a new device or hub credential (or a person's own submission) collects for:
    its creator's, when that is the owner or a partner of the project; the project's for code and the
    administrator. Anyone else is refused rather than counted as the owner's (module docstring)."""
    user = actor.user if actor is not None else None
    org = user.organisation_id if user is not None else None
    if org is not None and (org == project.organisation_id or is_partner(session, project, org)):
        return org
    if user is None or user.is_admin:
        return project.organisation_id
    if org is None and not session.scalar(sa.select(_shared(project))):
        return project.organisation_id
    if org is None:
        raise ForbiddenError(
            "Your account belongs to no organisation, and this project is shared with partners: each "
            "record must be collected for one. Ask the system administrator to set your organisation."
        )
    raise ForbiddenError(
        "Your organisation is not a partner of this project (any more), so you cannot collect for it. "
        "Ask the project's owners to share it with your organisation again."
    )


def collecting_organisation(session: Session, *, actor: Actor, project: Project) -> int:
    """The organisation a submission arriving from ``actor`` is collected for: the device's or hub's
    (fixed when it was issued), or the person's when theirs is a partner; else the project's."""
    hub = getattr(actor, "hub", None)
    if hub is not None and hub.organisation_id is not None:
        return int(hub.organisation_id)
    if actor.app_user is not None and actor.app_user.organisation_id is not None:
        return actor.app_user.organisation_id
    if actor.user is not None:
        return credential_organisation(session, actor=actor, project=project)
    return project.organisation_id
