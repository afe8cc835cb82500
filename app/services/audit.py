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


_INSERT_EVENT = sa.insert(cast(sa.Table, AuditEvent.__table__))  # built once; values are parameters


def record_now(
    session: Session,
    *,
    actor: Actor | None,
    action: str,
    project_id: int | None = None,
    subject_type: str | None = None,
    subject_id: object = None,
    details: dict[str, Any] | None = None,
    created_at: datetime | None = None,
) -> None:
    """The same event as ``record``, written at once by one INSERT (no ORM object, no flush): for hot
    paths such as submission ingest."""
    session.execute(
        _INSERT_EVENT,
        {
            "action": action,
            "actor_user_id": actor.user_id if actor else None,
            "actor_app_user_id": actor.app_user_id if actor else None,
            "project_id": project_id,
            "subject_type": subject_type,
            "subject_id": None if subject_id is None else str(subject_id),
            "details": details or {},
            "created_at": created_at or utcnow(),
        },
    )
