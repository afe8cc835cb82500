"""Which submission rows a reader may see: the one row filter every read path applies, in SQL.

A project belongs to one organisation and may be shared with partner organisations
(``project_partners``). Every submission records the organisation it was collected for. Then:

- the system administrator, and the people of the owning organisation, see every row;
- a person of a partner organisation sees only the rows collected for that organisation, and only
  while the organisation is still a partner (both checked in the query itself);
- a coordinator sees no raw row (indicators only), nor does a device or hub credential, nor anyone
  without a role in the project: the filter is ``false`` and the rows simply are not there (404).

People of no organisation (accounts only the administrator makes and assigns) are the owner's.

``visible_rows`` is the single place the rule lives; a read path that needs another condition on which
rows exist (for example the trash of deleted rows) adds it here, so no path can miss it.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.auth.policy import COORDINATOR
from app.errors import ForbiddenError, NotFoundError
from app.models import Form, Project, ProjectPartner, Submission


def visible_rows(session: Session, actor: Actor, project: Project) -> ColumnElement[bool]:
    """The condition on ``submissions`` (its columns, ORM or Core) that keeps only ``actor``'s rows."""
    if actor.is_admin:
        return sa.true()
    if actor.user is None:
        return sa.false()
    role = actor.role_in(session, project.id)
    if role is None or role == COORDINATOR:
        return sa.false()
    org = actor.user.organisation_id
    if org is None:
        return sa.true()
    owner = sa.select(Project.id).where(Project.id == project.id, Project.organisation_id == org).exists()
    partner = (
        sa.select(ProjectPartner.id)
        .where(ProjectPartner.project_id == project.id, ProjectPartner.organisation_id == org)
        .exists()
    )
    return sa.or_(owner, sa.and_(Submission.organisation_id == org, partner))


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
    return org is None or org == project.organisation_id


def require_project_figures(session: Session, actor: Actor, project: Project) -> None:
    """Indicators are computed over every row of the project, so only those who may see figures of
    every partner read them: the owners, the administrator and coordinators (suppressed, as always).
    A partner's people get a 403 rather than counts that include other partners' rows."""
    if sees_all_rows(session, actor, project) or actor.role_in(session, project.id) == COORDINATOR:
        return
    raise ForbiddenError(
        "The project's indicators count every partner's rows; your organisation sees only its own. "
        "Export your organisation's submissions, or ask the project's coordinator for the figures."
    )


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
    """The organisation a new device or hub credential collects for: its creator's, when that is a
    partner of the project; else the project's own."""
    org = actor.user.organisation_id if actor is not None and actor.user is not None else None
    return org if org is not None and is_partner(session, project, org) else project.organisation_id


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
