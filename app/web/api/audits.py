"""``GET /v1/audits`` in ODK Central's shape: who did what, when, including reads of data (views of
records and files, lists, exports, OData pulls, decryptions, indicator downloads)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import Response, jsonify

from app.db import get_session
from app.errors import InvalidValueError
from app.models import AuditEvent
from app.services.audit import query as audit_query
from app.web import query
from app.web.api import bp
from app.web.api.serialise import ts
from app.web.auth import logged_in_actor


class AuditArgs(query.QuerySchema):
    action = query.Text(max_length=64)
    actorId = query.Count()
    start = query.Text(max_length=40)
    end = query.Text(max_length=40)
    limit = query.Count(minimum=1, maximum=audit_query.MAX_LIMIT)
    offset = query.Count()


def _moment(raw: str | None, name: str, *, end: bool) -> datetime | None:
    """An ISO date or date-time; a time without zone is UTC; a bare date ``end`` includes that day."""
    if raw is None:
        return None
    text = raw.strip()
    if text[-1:] in ("z", "Z"):
        text = text[:-1] + "+00:00"
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day + timedelta(days=1 if end else 0), time.min, tzinfo=UTC)
        moment = datetime.fromisoformat(text)
    except ValueError as err:
        raise InvalidValueError(
            f"{name} must be a date (2026-12-07) or a date and time (2026-12-07T10:00:00Z).",
            details={"argument": name},
        ) from err
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _event(e: AuditEvent) -> dict[str, Any]:
    return {
        "id": e.id,
        "actorId": e.actor_user_id,
        "appUserId": e.actor_app_user_id,
        "action": e.action,
        "acteeId": e.subject_id,
        "acteeType": e.subject_type,
        "projectId": e.project_id,
        "details": e.details or {},
        "loggedAt": ts(e.created_at),
    }


@bp.get("/audits")
def list_audits() -> Response:
    """Audit events the caller may see, newest first: ``action`` (``read`` for every read of data, or
    a prefix ending in "."), ``actorId``, ``start`` and ``end`` (ISO dates or times), paged."""
    actor = logged_in_actor()
    a = query.parse(AuditArgs())
    flt = audit_query.AuditFilter(
        action=a.get("action"),
        actor_id=a.get("actorId"),
        start=_moment(a.get("start"), "start", end=False),
        end=_moment(a.get("end"), "end", end=True),
        limit=a.get("limit", 100),
        offset=a.get("offset", 0),
    )
    return jsonify([_event(e) for e in audit_query.list_events(get_session(), actor=actor, f=flt)])
