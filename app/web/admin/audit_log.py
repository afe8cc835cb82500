"""The audit log page: every write, export, decryption and view the reader may see, filtered by person,
action, project and date, and the same selection as a CSV file (itself an audited export).

An administrator reads every event; a project manager (``audit.read``) the events of their projects;
anyone else gets a 403."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask import Response, render_template, request
from flask_babel import gettext

from app.db import get_session
from app.errors import ForbiddenError, InvalidValueError
from app.models import Project
from app.services.audit import log as audit_log
from app.web import query
from app.web.admin import bp
from app.web.admin.context import current_actor
from app.web.admin.filters import query_string
from app.web.downloads import content_disposition

FILTER_KEYS = ("person", "action", "project", "from", "to")
CSV_HEADERS = ("id", "time_utc", "action", "action_name", "person", "email", "project", "subject", "details")


class AuditArgs(query.QuerySchema):
    person = query.Count()
    project = query.Count()
    action = query.Text(max_length=64)
    from_ = query.Text(data_key="from", max_length=32)
    to = query.Text(max_length=32)
    page = query.Count(minimum=1, maximum=100_000)


def _date(raw: str | None, name: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as err:
        raise InvalidValueError(
            gettext("The %(name)s date must look like 2026-11-23.", name=name), details={"argument": name}
        ) from err


def _filter() -> tuple[audit_log.AuditFilter, int]:
    a = query.parse(AuditArgs())
    f = audit_log.AuditFilter(
        person=a.get("person"),
        action=a.get("action"),
        project_id=a.get("project"),
        since=_date(a.get("from_"), "from"),
        until=_date(a.get("to"), "to"),
    )
    return f, int(a.get("page") or 1)


def _reader() -> Any:
    actor = current_actor()
    allowed = audit_log.readable_project_ids(get_session(), actor)
    if allowed is not None and not allowed:
        raise ForbiddenError(gettext("Only administrators and project managers may read the audit log."))
    return actor, allowed


@bp.get("/audit")
def audit_page() -> str:
    actor, allowed = _reader()
    db = get_session()
    f, page = _filter()
    entries, more = audit_log.search(db, actor=actor, f=f, page=page)
    projects = db.scalars(
        sa.select(Project)
        .where(Project.id.in_(allowed) if allowed is not None else sa.true())
        .order_by(Project.name)
    ).all()
    args = {k: request.args[k] for k in FILTER_KEYS if request.args.get(k)}
    return render_template(
        "admin/audit.html",
        entries=entries,
        page=page,
        more=more,
        args=args,
        people=audit_log.people(db, actor=actor),
        actions=audit_log.actions(db),
        projects=projects,
        csv_query=query_string(args),
        next_query=query_string(args, page=page + 1),
        prev_query=query_string(args, page=page - 1 if page > 1 else None),
    )


def _csv(entries: Iterator[audit_log.Entry]) -> Iterator[bytes]:
    from app.web.admin.labels import audit_action_label

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADERS)
    for n, e in enumerate(entries):
        writer.writerow(
            [
                e.id,
                e.at.isoformat(),
                e.action,
                audit_action_label(e.action),
                _safe(e.person or ""),
                _safe(e.email or ""),
                _safe(e.project or ""),
                _safe(e.subject),
                _safe(json.dumps(e.details, ensure_ascii=False, sort_keys=True, default=str)),
            ]
        )
        if n % 200 == 0:
            yield out.getvalue().encode("utf-8")
            out.seek(0)
            out.truncate()
    yield out.getvalue().encode("utf-8")


def _safe(text: str) -> str:
    """A value a spreadsheet would run as a formula gets a leading ' (as the submission CSVs do)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@bp.get("/audit.csv")
def audit_csv() -> Response:
    actor, _ = _reader()
    db = get_session()
    f, _page = _filter()
    audit_log.record_export(db, actor=actor, f=f)
    # Rendered in the request: the labels need its locale, and the entries its session.
    body = b"".join(_csv(audit_log.all_entries(db, actor=actor, f=f)))
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = content_disposition("audit-log.csv")
    response.headers["Cache-Control"] = "no-store"
    return response
