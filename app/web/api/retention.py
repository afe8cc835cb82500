"""Retention and subject requests of a form: what the purge job will delete and when, and a person's
records found by instance ID or the form's identifier field, then deleted on request."""

from __future__ import annotations

from flask import Response, jsonify

from app.db import get_session
from app.errors import InvalidValueError
from app.services.audit import events as audit
from app.services.protection import retention
from app.services.publishing import versions as form_service
from app.web import query
from app.web.api import bodies, bp
from app.web.api.projects import project_for
from app.web.api.serialise import ts
from app.web.auth import logged_in_actor
from app.web.query import accepts, load_body

FORM = "/projects/<int:project_id>/forms/<xml_form_id>"


class ScheduleArgs(query.QuerySchema):
    days = query.Count(minimum=1, maximum=3650)


@bp.get(FORM + "/retention")
def retention_schedule(project_id: int, xml_form_id: str) -> Response:
    """Said in advance: how many records the purge job deletes now and within ``days`` (default 30),
    by reason (the trash's restore window, the form's retentionDays), and when the next one is due."""
    actor = logged_in_actor()
    project = project_for(actor, project_id, "submission.list")
    form = form_service.get_form(get_session(), project=project, xml_form_id=xml_form_id)
    args = query.parse(ScheduleArgs())
    return jsonify(retention.schedule(get_session(), form, horizon_days=args.get("days", 30)).to_json())


@bp.post(FORM + "/subject-requests")
@accepts(bodies.SubjectRequest)
def subject_request(project_id: int, xml_form_id: str) -> Response:
    """A person's request: ``{"instanceId": ...}`` or ``{"identifier": ...}`` finds their records;
    ``"delete": true`` moves them to the trash, and ``"purge": true`` purges them now (by the job
    queue) instead of after the restore window. Audited with counts, never with the identifier."""
    actor = logged_in_actor()
    project = project_for(actor, project_id, "submission.delete")
    session = get_session()
    form = form_service.get_form(session, project=project, xml_form_id=xml_form_id)
    data = load_body()
    found = retention.find_subject(
        session, form, instance_id=data.get("instanceId") or None, identifier=data.get("identifier") or None
    )
    delete, purge = bool(data.get("delete")), bool(data.get("purge"))
    if purge and not delete:
        raise InvalidValueError("purge needs delete: true as well.", details={"field": "purge"})
    for sub in found if delete else []:
        retention.trash(session, actor=actor, project=project, form=form, submission=sub)
    if purge and found:
        retention.enqueue_subject_purge(session, form=form, submission_ids=[s.id for s in found])
    audit.record(
        session,
        actor=actor,
        action="subject.request",
        project_id=project.id,
        subject_type="form",
        subject_id=form.xml_form_id,
        details={
            "by": "instanceId" if data.get("instanceId") else "identifier",
            "found": len(found),
            "deleted": len(found) if delete else 0,
            "purgeQueued": purge and bool(found),
        },
    )
    return jsonify(
        {
            "found": len(found),
            "deleted": delete,
            "purgeQueued": purge and bool(found),
            "submissions": [
                {"instanceId": s.instance_id, "createdAt": ts(s.created_at), "deletedAt": ts(s.deleted_at)}
                for s in found
            ],
        }
    )
