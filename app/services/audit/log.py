"""Reading the audit trail: events filtered by person, action, project and date, newest first, limited
to what the reader may see (``audit_query.visible_events``, the same rule as ``GET /v1/audits``: an
administrator every event; a project manager the events of their projects, only their own people's
when their organisation is a partner). Reading it for a CSV export is itself an audited export."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.models import AuditEvent, Project, User
from app.services.audit import events as audit
from app.services.audit import query as audit_query

PAGE_SIZE = 100
CSV_PAGE = 1000


@dataclass(frozen=True)
class AuditFilter:
    person: int | None = None  # a user id
    action: str | None = None  # an exact action, or a family ending in "." (``submission.``)
    project_id: int | None = None
    since: date | None = None
    until: date | None = None  # inclusive


@dataclass(frozen=True)
class Entry:
    id: int
    at: datetime
    action: str
    person: str | None
    email: str | None
    project: str | None
    project_id: int | None
    subject: str
    details: dict[str, Any]


def readable_project_ids(session: Session, actor: Actor) -> list[int] | None:
    """None: every event (the administrator); else the projects whose audit the actor may read."""
    if actor.is_admin:
        return None
    return [pid for pid in sorted(actor.roles(session)) if actor.can(session, "audit.read", pid)]


def _where(session: Session, actor: Actor, f: AuditFilter) -> list[Any]:
    clauses: list[Any] = [audit_query.visible_events(session, actor)]
    if f.person is not None:
        clauses.append(AuditEvent.actor_user_id == f.person)
    if f.action:
        if f.action.endswith("."):
            clauses.append(AuditEvent.action.startswith(f.action, autoescape=True))
        else:
            clauses.append(AuditEvent.action == f.action)
    if f.project_id is not None:
        clauses.append(AuditEvent.project_id == f.project_id)
    if f.since is not None:
        clauses.append(AuditEvent.created_at >= datetime.combine(f.since, time(), tzinfo=UTC))
    if f.until is not None:
        end = datetime.combine(f.until + timedelta(days=1), time(), tzinfo=UTC)
        clauses.append(AuditEvent.created_at < end)
    return clauses


def _select(session: Session, actor: Actor, f: AuditFilter) -> Any:
    return (
        sa.select(AuditEvent, User.email, User.display_name, Project.name)
        .outerjoin(User, User.id == AuditEvent.actor_user_id)
        .outerjoin(Project, Project.id == AuditEvent.project_id)
        .where(*_where(session, actor, f))
        .order_by(AuditEvent.id.desc())
    )


def _entry(row: Any) -> Entry:
    event, email, name, project = row
    subject = f"{event.subject_type}:{event.subject_id}" if event.subject_type else ""
    return Entry(
        id=event.id,
        at=event.created_at,
        action=event.action,
        person=(name or email) if email else None,
        email=email,
        project=project,
        project_id=event.project_id,
        subject=subject,
        details=dict(event.details or {}),
    )


def search(session: Session, *, actor: Actor, f: AuditFilter, page: int = 1) -> tuple[list[Entry], bool]:
    """One page of entries and whether there is a next page."""
    rows = session.execute(
        _select(session, actor, f).limit(PAGE_SIZE + 1).offset((page - 1) * PAGE_SIZE)
    ).all()
    return [_entry(r) for r in rows[:PAGE_SIZE]], len(rows) > PAGE_SIZE


def all_entries(session: Session, *, actor: Actor, f: AuditFilter) -> Iterator[Entry]:
    """Every matching entry, read in keyset pages (no OFFSET cost on a long trail)."""
    below: int | None = None
    while True:
        q = _select(session, actor, f)
        if below is not None:
            q = q.where(AuditEvent.id < below)
        rows = session.execute(q.limit(CSV_PAGE)).all()
        for row in rows:
            yield _entry(row)
        if len(rows) < CSV_PAGE:
            return
        below = rows[-1][0].id


def actions(session: Session) -> list[str]:
    """Every action recorded so far, for the filter's choice."""
    return list(session.scalars(sa.select(AuditEvent.action).distinct().order_by(AuditEvent.action)))


def people(session: Session, *, actor: Actor) -> list[User]:
    """The people who appear in the trail the actor may read."""
    allowed = readable_project_ids(session, actor)
    q = sa.select(User).where(
        User.id.in_(sa.select(AuditEvent.actor_user_id).where(AuditEvent.actor_user_id.is_not(None)))
    )
    if allowed is not None:
        q = q.where(
            User.id.in_(sa.select(AuditEvent.actor_user_id).where(AuditEvent.project_id.in_(allowed)))
        )
    return list(session.scalars(q.order_by(User.email)))


def record_export(session: Session, *, actor: Actor, f: AuditFilter) -> None:
    audit.record(
        session,
        actor=actor,
        action="audit.export",
        project_id=f.project_id,
        subject_type="audit",
        details={
            "person": f.person,
            "action": f.action,
            "since": f.since.isoformat() if f.since else None,
            "until": f.until.isoformat() if f.until else None,
        },
    )
