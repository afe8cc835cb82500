"""Submissions in the JSON API (Central's shapes): list, get, create from XML, edit, review state,
comments, attachments, and the verbatim ``.xml``."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request
from marshmallow import fields
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.auth.actor import Actor
from app.blobs import get_blob_store
from app.db import get_session
from app.errors import ForbiddenError, NotFoundError, SubmissionXMLError
from app.models import Form, Project, Submission, SubmissionAttachment, SubmissionVersion
from app.services import quality, tombstones
from app.services.audit import events as audit
from app.services.protection import record_scope, retention, row_access, sensitive
from app.services.publishing import versions as form_service
from app.services.review import decisions as review
from app.services.submissions import intake as submission_service
from app.web import query
from app.web.api import bodies, bp
from app.web.api.helpers import read_body
from app.web.api.projects import project_for
from app.web.api.serialise import ts
from app.web.auth import logged_in_actor
from app.web.blob_download import blob_response
from app.web.downloads import content_disposition
from app.web.query import accepts, load_body
from forms.schema import FormSchema

BASE = "/projects/<int:project_id>/forms/<xml_form_id>/submissions"


def version_json(v: SubmissionVersion, *, current: bool) -> dict[str, Any]:
    """A version in Central's shape (``currentVersion`` of a submission, an item of ``/versions``)."""
    return {
        "instanceId": v.instance_id,
        "instanceName": v.instance_name,
        "submitterId": v.submitter_user_id or v.submitter_app_user_id,
        "deviceId": v.device_id,
        "userAgent": v.user_agent,
        "createdAt": ts(v.received_at),
        "current": current,
        "deprecatedId": v.deprecated_id,  # Ruta extension: the version this one replaces
    }


def submission_json(s: Submission) -> dict[str, Any]:
    current = s.current_version
    return {
        "instanceId": s.instance_id,
        "submitterId": s.submitter_user_id or s.submitter_app_user_id,
        "deviceId": s.device_id,
        "userAgent": s.user_agent,
        "reviewState": None if s.review_state == "received" else s.review_state,
        "instanceName": s.instance_name,
        "createdAt": ts(s.created_at),
        "updatedAt": ts(s.updated_at),
        "attachmentsExpected": s.attachments_expected,
        "attachmentsPresent": s.attachments_present,
        "encrypted": s.is_encrypted,
        "qualityFlags": s.quality_flags or [],  # Ruta extension: [{code, message, details}]
        "currentVersion": version_json(current, current=True) if current is not None else None,
        # Ruta extension: two edits replaced the same version (both kept; the flag says which).
        "editConflict": f" {quality.EDIT_CONFLICT} " in (s.flag_codes or ""),
    }


def _read(actor: Actor, project: Project, form: Form, sub: Submission, what: str, **details: Any) -> None:
    """The audit event of a read of one record (who, when, what); the view commits it."""
    audit.record(
        get_session(),
        actor=actor,
        action="submission.read",
        project_id=project.id,
        subject_type="submission",
        subject_id=sub.instance_id,
        details={"form": form.xml_form_id, "via": "api", "what": what, **details},
    )


def _form(actor: Actor, project_id: int, xml_form_id: str, action: str) -> tuple[Project, Form]:
    project = project_for(actor, project_id, action)
    return project, form_service.get_form(get_session(), project=project, xml_form_id=xml_form_id)


def _submission(actor: Actor, project: Project, form: Form, instance_id: str) -> Submission:
    """A live record by its instanceID or an edit's, when it is one of the rows ``actor`` may see
    (``row_access``); a trashed or foreign one is a 404 like any unknown."""
    session = get_session()
    return retention.find(session, form, instance_id, rows=row_access.visible_rows(session, actor, project))


# What ``version_json`` reads: a list loads these, not every version's XML and values.
_VERSION_COLUMNS = (
    SubmissionVersion.instance_id,
    SubmissionVersion.instance_name,
    SubmissionVersion.submitter_user_id,
    SubmissionVersion.submitter_app_user_id,
    SubmissionVersion.device_id,
    SubmissionVersion.user_agent,
    SubmissionVersion.received_at,
    SubmissionVersion.deprecated_id,
)


class ListArgs(query.QuerySchema):
    limit = query.Count()
    offset = query.Count()
    deleted = fields.Boolean()


def trashed_json(s: Submission) -> dict[str, Any]:
    return {
        "instanceId": s.instance_id,
        "instanceName": s.instance_name,
        "createdAt": ts(s.created_at),
        "deletedAt": ts(s.deleted_at),
        "deletedBy": s.deleted_by_id,
        "restorableUntil": ts(retention.restore_deadline(s)),
    }


@bp.get(BASE)
def list_submissions(project_id: int, xml_form_id: str) -> Response:
    actor = logged_in_actor()
    paging = query.parse(ListArgs())
    limit = min(paging.get("limit", 1000), 10000)
    offset = paging.get("offset", 0)
    session = get_session()
    if paging.get("deleted"):
        project, form = _form(actor, project_id, xml_form_id, "submission.delete")
        trashed = retention.list_trashed(
            session, form, limit=limit, offset=offset, rows=row_access.visible_rows(session, actor, project)
        )
        return jsonify([trashed_json(s) for s in trashed])
    project, form = _form(actor, project_id, xml_form_id, "submission.list")
    rows = list(
        session.scalars(
            select(Submission)
            .options(selectinload(Submission.current_version).load_only(*_VERSION_COLUMNS))
            .where(
                Submission.form_id == form.id,
                row_access.visible_rows(session, actor, project),
                record_scope.visible(),
            )
            .order_by(Submission.id)
            .limit(limit)
            .offset(offset)
        )
    )
    audit.record(
        session,
        actor=actor,
        action="submission.list",
        project_id=project.id,
        subject_type="form",
        subject_id=form.xml_form_id,
        details={"via": "api", "limit": limit, "offset": offset, "rows": len(rows)},
    )
    return jsonify([submission_json(s) for s in rows])


@bp.delete(BASE + "/<instance_id>")
def delete_submission(project_id: int, xml_form_id: str, instance_id: str) -> Response:
    """To the trash: gone from every read, restorable for 30 days, then purged with its files."""
    actor = logged_in_actor()
    project, form = _form(actor, project_id, xml_form_id, "submission.delete")
    sub = _submission(actor, project, form, instance_id)
    retention.trash(get_session(), actor=actor, project=project, form=form, submission=sub)
    return jsonify(trashed_json(sub))


@bp.post(BASE + "/<instance_id>/restore")
def restore_submission(project_id: int, xml_form_id: str, instance_id: str) -> Response:
    actor = logged_in_actor()
    project, form = _form(actor, project_id, xml_form_id, "submission.delete")
    session = get_session()
    rows = row_access.visible_rows(session, actor, project)
    sub = retention.find(session, form, instance_id, trashed=True, rows=rows)
    retention.restore(get_session(), actor=actor, project=project, form=form, submission=sub)
    return jsonify(submission_json(sub))


def _ingest_xml(
    actor: Actor, project: Project, form: Form, xml: bytes, *, edits: Submission | None
) -> Response:
    session = get_session()
    parsed = submission_service.parse(xml)
    if parsed.form_id != form.xml_form_id:
        raise SubmissionXMLError(f"The XML is for form {parsed.form_id!r}, not {form.xml_form_id!r}.")
    if edits is not None and parsed.deprecated_id is None:
        raise SubmissionXMLError("An edit must carry meta/deprecatedID naming the version it replaces.")
    kwargs: dict[str, Any] = {
        "actor": actor,
        "project": project,
        "xml": xml,
        "files": [],
        "store": get_blob_store(),
        "origin": submission_service.origin(None, request.headers.get("User-Agent")),
        "parsed": parsed,
        "edit_of": edits,
    }
    # A racing request with the same instanceID: the unit of work runs this view again (the body is
    # kept by read_body), and the second run takes the idempotent path.
    result = submission_service.ingest(session, **kwargs)
    if result.purged:
        # The resend stays on record although the caller hears an error and the request rolls back.
        raise tombstones.PurgedResendError(
            "This record was deleted for good on this server (purged), so it is not stored again.",
            audit_rows=[result.purged_audit] if result.purged_audit else None,
        )
    return jsonify(submission_json(result.submission))


@bp.post(BASE)
def create_submission(project_id: int, xml_form_id: str) -> Response:
    actor = logged_in_actor()
    project, form = _form(actor, project_id, xml_form_id, "submission.create")
    return _ingest_xml(actor, project, form, read_body("MAX_SUBMISSION_BYTES"), edits=None)


@bp.get(BASE + "/<instance_id>")
def get_submission(project_id: int, xml_form_id: str, instance_id: str) -> Response:
    actor = logged_in_actor()
    project, form = _form(actor, project_id, xml_form_id, "submission.read")
    sub = _submission(actor, project, form, instance_id)
    _read(actor, project, form, sub, "record")
    return jsonify(submission_json(sub))


@bp.put(BASE + "/<instance_id>")
def edit_submission(project_id: int, xml_form_id: str, instance_id: str) -> Response:
    actor = logged_in_actor()
    project, form = _form(actor, project_id, xml_form_id, "submission.update")
    sub = _submission(actor, project, form, instance_id)
    return _ingest_xml(actor, project, form, read_body("MAX_SUBMISSION_BYTES"), edits=sub)


@bp.get(BASE + "/<instance_id>/versions")
def list_submission_versions(project_id: int, xml_form_id: str, instance_id: str) -> Response:
    """Central's version list, newest first; Ruta adds ``deprecatedId`` and ``conflict`` (an edit of a
    version another edit had already replaced: null, or the instanceID of that earlier edit)."""
    actor = logged_in_actor()
    project, form = _form(actor, project_id, xml_form_id, "submission.read")
    sub = _submission(actor, project, form, instance_id)
    return jsonify(
        [
            version_json(v.version, current=v.current)
            | {"conflict": {"earlierInstanceId": v.conflict.earlier_id} if v.conflict else None}
            for v in submission_service.versions_of(get_session(), sub)
        ]
    )


@bp.patch(BASE + "/<instance_id>")
@accepts(bodies.Review)
def review_submission(project_id: int, xml_form_id: str, instance_id: str) -> Response:
    actor = logged_in_actor()
    project, form = _form(actor, project_id, xml_form_id, "submission.review")
    sub = _submission(actor, project, form, instance_id)
    data = load_body()
    review.set_review_state(
        get_session(),
        actor=actor,
        project=project,
        submission=sub,
        state=data["reviewState"],
        comment=data.get("comment"),
    )
    return jsonify(submission_json(sub))


def _hidden(actor: Actor, project: Project, form: Form) -> frozenset[str]:
    version = form.current_version
    if version is None:
        return frozenset()
    return sensitive.hidden_paths(get_session(), actor, project, FormSchema.from_dict(version.schema))


def _hidden_files(actor: Actor, project: Project, form: Form, sub: Submission) -> set[str]:
    hidden = _hidden(actor, project, form)
    if not hidden or form.current_version is None or sub.current_version is None:
        return set()
    schema = FormSchema.from_dict(form.current_version.schema)
    return sensitive.hidden_file_names(schema, sub.current_version.values or {}, hidden)


@bp.get(BASE + "/<instance_id>.xml")
def submission_xml(project_id: int, xml_form_id: str, instance_id: str) -> Response:
    actor = logged_in_actor()
    project, form = _form(actor, project_id, xml_form_id, "submission.read")
    sub = _submission(actor, project, form, instance_id)
    version = get_session().get(SubmissionVersion, sub.current_version_id)
    assert version is not None
    hidden = _hidden(actor, project, form)
    _read(actor, project, form, sub, "xml", sensitive=not hidden)
    # Sensitive fields come out empty for callers who may not see them (issue 7's one rule).
    return Response(sensitive.redact_xml(version.xml, hidden), mimetype="application/xml")


@bp.get(BASE + "/<instance_id>/versions/<version_id>.xml")
def submission_version_xml(project_id: int, xml_form_id: str, instance_id: str, version_id: str) -> Response:
    """One version's XML as it was sent (Central's route), sensitive fields emptied as for the current one."""
    actor = logged_in_actor()
    project, form = _form(actor, project_id, xml_form_id, "submission.read")
    sub = _submission(actor, project, form, instance_id)
    version = get_session().scalar(
        select(SubmissionVersion).where(
            SubmissionVersion.submission_id == sub.id, SubmissionVersion.instance_id == version_id
        )
    )
    if version is None:
        raise NotFoundError(f"The submission has no version {version_id!r}.")
    hidden = _hidden(actor, project, form)
    _read(actor, project, form, sub, "version", version=version_id, sensitive=not hidden)
    return Response(sensitive.redact_xml(version.xml, hidden), mimetype="application/xml")


@bp.get(BASE + "/<instance_id>/comments")
def list_comments(project_id: int, xml_form_id: str, instance_id: str) -> Response:
    actor = logged_in_actor()
    project, form = _form(actor, project_id, xml_form_id, "submission.read")
    comments = review.list_comments(get_session(), submission=_submission(actor, project, form, instance_id))
    return jsonify([{"body": c.body, "actorId": c.user_id, "createdAt": ts(c.created_at)} for c in comments])


@bp.post(BASE + "/<instance_id>/comments")
@accepts(bodies.Comment)
def add_comment(project_id: int, xml_form_id: str, instance_id: str) -> Response:
    actor = logged_in_actor()
    project, form = _form(actor, project_id, xml_form_id, "submission.comment")
    c = review.add_comment(
        get_session(),
        actor=actor,
        project=project,
        submission=_submission(actor, project, form, instance_id),
        body=load_body()["body"],
    )
    return jsonify({"body": c.body, "actorId": c.user_id, "createdAt": ts(c.created_at)})


def _current_attachments(sub: Submission) -> list[SubmissionAttachment]:
    return list(
        get_session().scalars(
            select(SubmissionAttachment)
            .where(
                SubmissionAttachment.submission_version_id == sub.current_version_id, record_scope.live_file()
            )
            .order_by(SubmissionAttachment.name)
        )
    )


@bp.get(BASE + "/<instance_id>/attachments")
def list_submission_attachments(project_id: int, xml_form_id: str, instance_id: str) -> Response:
    actor = logged_in_actor()
    project, form = _form(actor, project_id, xml_form_id, "submission.read")
    sub = _submission(actor, project, form, instance_id)
    hidden = _hidden_files(actor, project, form, sub)
    return jsonify(
        [
            {"name": a.name, "exists": a.blob_sha256 is not None, "expected": a.is_expected}
            for a in _current_attachments(sub)
            if a.name not in hidden
        ]
    )


@bp.get(BASE + "/<instance_id>/attachments/<name>")
def get_submission_attachment(project_id: int, xml_form_id: str, instance_id: str, name: str) -> Response:
    actor = logged_in_actor()
    project, form = _form(actor, project_id, xml_form_id, "submission.read")
    sub = _submission(actor, project, form, instance_id)
    att = next((a for a in _current_attachments(sub) if a.name == name), None)
    if att is not None and name in _hidden_files(actor, project, form, sub):
        raise ForbiddenError("This file belongs to a sensitive field you may not see.")
    if att is None or att.blob_sha256 is None:
        raise NotFoundError(f"The submission has no file named {name!r}.")
    _read(actor, project, form, sub, "attachment", name=name)
    # Served as a download, never inline: a hostile SVG or HTML must not run in a reviewer's browser.
    return blob_response(
        att.blob_sha256,
        mimetype="application/octet-stream",
        disposition=content_disposition(name),
        headers={"X-Content-Type-Options": "nosniff"},
    )


@bp.delete(BASE + "/<instance_id>/attachments/<name>")
def delete_submission_attachment(project_id: int, xml_form_id: str, instance_id: str, name: str) -> Response:
    """One file to the trash, the record kept (restorable for 30 days, then purged)."""
    actor = logged_in_actor()
    project, form = _form(actor, project_id, xml_form_id, "submission.delete")
    sub = _submission(actor, project, form, instance_id)
    session = get_session()
    retention.trash_file(session, actor=actor, project=project, form=form, submission=sub, name=name)
    return jsonify({"success": True})


@bp.post(BASE + "/<instance_id>/attachments/<name>/restore")
def restore_submission_attachment(project_id: int, xml_form_id: str, instance_id: str, name: str) -> Response:
    actor = logged_in_actor()
    project, form = _form(actor, project_id, xml_form_id, "submission.delete")
    sub = _submission(actor, project, form, instance_id)
    session = get_session()
    retention.restore_file(session, actor=actor, project=project, form=form, submission=sub, name=name)
    return jsonify({"success": True})


@bp.post(BASE + "/<instance_id>/attachments/<name>")
def upload_submission_attachment(project_id: int, xml_form_id: str, instance_id: str, name: str) -> Response:
    actor = logged_in_actor()
    project, form = _form(actor, project_id, xml_form_id, "submission.update")
    sub = _submission(actor, project, form, instance_id)
    version = get_session().get(SubmissionVersion, sub.current_version_id)
    assert version is not None
    if name not in {a.name for a in version.attachments if a.is_expected}:
        raise NotFoundError(f"The submission does not expect a file named {name!r}.")
    result = submission_service.add_files_to_version(
        get_session(),
        actor=actor,
        project=project,
        version=version,
        files=[
            submission_service.IncomingFile(name, read_body("MAX_SUBMISSION_BYTES"), request.content_type)
        ],
        store=get_blob_store(),
    )
    return jsonify({"success": True, "added": result.added_files})
