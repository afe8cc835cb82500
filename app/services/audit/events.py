"""Recording audit events: every write and every export goes through ``record``."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.db import utcnow
from app.models import AuditEvent


def record(
    session: Session,
    *,
    actor: Actor | None,
    action: str,
    project_id: int | None = None,
    subject_type: str | None = None,
    subject_id: object = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    event = AuditEvent(
        action=action,
        actor_user_id=actor.user_id if actor else None,
        actor_app_user_id=actor.app_user_id if actor else None,
        project_id=project_id,
        subject_type=subject_type,
        subject_id=None if subject_id is None else str(subject_id),
        details=details or {},
    )
    session.add(event)
    return event


EVENTS = cast(sa.Table, AuditEvent.__table__)
_INSERT_EVENT = sa.insert(EVENTS)  # built once; values are parameters


def event_row(
    *,
    actor: Actor | None,
    action: str,
    project_id: int | None = None,
    subject_type: str | None = None,
    subject_id: object = None,
    details: dict[str, Any] | None = None,
    created_at: datetime | None = None,
) -> dict[str, Any]:
    """The columns of the same event ``record`` makes, for a caller that writes it with other rows
    in one statement (submission ingest on PostgreSQL)."""
    return {
        "action": action,
        "actor_user_id": actor.user_id if actor else None,
        "actor_app_user_id": actor.app_user_id if actor else None,
        "project_id": project_id,
        "subject_type": subject_type,
        "subject_id": None if subject_id is None else str(subject_id),
        "details": details or {},
        "created_at": created_at or utcnow(),
    }


def record_row(session: Session, row: dict[str, Any]) -> None:
    """Write an ``event_row`` at once: one INSERT, no ORM object, no flush."""
    session.execute(_INSERT_EVENT, row)
