"""Reading the audit trail (``GET /v1/audits``): writes, exports and reads, filtered by action, actor
and time, limited to what the asker may see.

The administrator sees every event. A project manager sees the events of their projects: all of them
when their organisation owns the project, and only those of their own organisation's people when it
is a partner (another partner's reads name records that partner's people do not see).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.models import AuditEvent, Project, User
from app.services.protection import row_access

MAX_LIMIT = 1000
# Reads of data (a record, a file, a list, an export, an OData page, a decryption, an indicator
# download): ``action=read`` asks for all of them at once.
READ_ACTIONS = (
    "submission.read",
    "submission.attachment.read",
    "submission.list",
    "submission.export",
    "submission.decrypt",
    "indicators.export",
)


@dataclass(frozen=True)
class AuditFilter:
    action: str | None = None  # an action, an action prefix ("submission."), or "read"
    actor_id: int | None = None
    start: datetime | None = None
    end: datetime | None = None  # exclusive
    limit: int = 100
    offset: int = 0


def visible_events(session: Session, actor: Actor) -> ColumnElement[bool]:
    """The audit events ``actor`` may read (module docstring): the one rule for the API and the admin."""
    if actor.is_admin:
        return sa.true()
    if actor.user is None:
        return sa.false()
    projects = [
        p
        for p in session.scalars(
            sa.select(Project).where(Project.id.in_(actor.visible_project_ids(session) or []))
        )
        if actor.can(session, "audit.read", p.id)
    ]
    conds: list[ColumnElement[bool]] = []
    own_people = sa.select(User.id).where(User.organisation_id == actor.user.organisation_id)
    for p in projects:
        if row_access.sees_all_rows(session, actor, p):
            conds.append(AuditEvent.project_id == p.id)
        else:
            conds.append(sa.and_(AuditEvent.project_id == p.id, AuditEvent.actor_user_id.in_(own_people)))
    return sa.or_(*conds) if conds else sa.false()


def list_events(session: Session, *, actor: Actor, f: AuditFilter) -> list[AuditEvent]:
    """Newest first."""
    actor.require_login()
    query = sa.select(AuditEvent).where(visible_events(session, actor))
    if f.action == "read":
        query = query.where(AuditEvent.action.in_(READ_ACTIONS))
    elif f.action is not None and f.action.endswith("."):
        query = query.where(AuditEvent.action.startswith(f.action, autoescape=True))
    elif f.action is not None:
        query = query.where(AuditEvent.action == f.action)
    if f.actor_id is not None:
        query = query.where(AuditEvent.actor_user_id == f.actor_id)
    if f.start is not None:
        query = query.where(AuditEvent.created_at >= f.start)
    if f.end is not None:
        query = query.where(AuditEvent.created_at < f.end)
    query = query.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
    return list(session.scalars(query.limit(min(f.limit, MAX_LIMIT)).offset(f.offset)))
