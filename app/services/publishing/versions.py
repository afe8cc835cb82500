"""Forms: uploading an XLSForm or XForm as a draft, publishing versions, states, form media.

The pure work (file type detection, pyxform, ODK Validate, introspection, rewriting) is in ``forms``;
this module stores what it produces. Published versions are immutable: their bytes are exactly what
the md5 in the formList describes.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import forms.detect
import forms.diff
import forms.validate
import forms.xform
import forms.xlsform
from app.auth.actor import Actor
from app.blobs import BlobStore
from app.db import utcnow
from app.errors import (
    AlreadyExistsError,
    FormFileError,
    FormVersionExistsError,
    InvalidValueError,
    NotFoundError,
    RutaError,
    XFormError,
    XLSFormError,
)
from app.models import Form, FormAttachment, FormVersion, Project, ProjectKey, User
from app.models.form import FORM_STATES
from app.services import entities as entity_lists
from app.services.audit import events as audit
from app.services.blobs import check_file_name, store_bytes
from app.services.entities import from_submissions as entity_submissions
from app.services.entities import serve as entity_serve
from app.services.publishing import gate as publish_gate
from forms import rewrite
from forms.schema import FormSchema
from sync import limits

_FORM_ID = re.compile(r"^[^/\\\x00-\x1f]{1,255}$")


class WarningsError(RutaError):
    """The form converted with warnings; Central's 400.16, so pyodk's ``ignoreWarnings`` flow works."""

    code, status = "400.16", 400
    default_message = (
        "The form has warnings. Read them, fix the form or upload again with ignoreWarnings=true."
    )


@dataclass
class PreparedVersion:
    xml: bytes
    schema: FormSchema
    warnings: list[str]
    validation: forms.validate.ValidationResult
    source_kind: str
    source_bytes: bytes | None
    itemsets_csv: bytes | None
    extra: dict[str, Any] = field(default_factory=dict)


@lru_cache(maxsize=256)
def _validate_cached(sha256: str, xml: bytes) -> forms.validate.ValidationResult:
    # ODK Validate starts a JVM (0.3-4 s); the same bytes always give the same answer.
    return forms.validate.odk_validate(xml)


def prepare_upload(
    data: bytes,
    *,
    filename: str | None,
    fallback_form_id: str | None,
    public_key: str | None,
    run_validate: bool,
) -> PreparedVersion:
    """Turn an uploaded XLSForm or XForm into the bytes Ruta will serve, and what it learnt."""
    try:
        kind = forms.detect.detect_kind(data, filename)
    except forms.detect.FormFileError as err:
        raise FormFileError(str(err)) from err
    warnings: list[str] = []
    itemsets: bytes | None = None
    source: bytes | None = None
    if kind == "xml":
        xml = data
    else:
        if not fallback_form_id and filename:
            # pyxform names a form from its file path; from bytes it would call every form "data".
            fallback_form_id = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(filename).stem) or None
        try:
            conversion = forms.xlsform.convert(data, filename=filename, fallback_form_id=fallback_form_id)
        except forms.detect.FormFileError as err:
            raise FormFileError(str(err)) from err
        except forms.xlsform.XLSFormError as err:
            raise XLSFormError(str(err), details={"source": kind}) from err
        xml, warnings, itemsets, source = (
            conversion.xform,
            list(conversion.warnings),
            conversion.itemsets_csv,
            data,
        )
    schema = _parse(xml)
    if public_key and not schema.public_key:
        xml = rewrite.add_public_key(xml, public_key)
        schema = _parse(xml)
    check_form_id(schema.form_id)
    check_lengths(schema)
    if run_validate:
        validation = _validate_cached(hashlib.sha256(xml).hexdigest(), xml)
    else:
        validation = forms.validate.ValidationResult(
            status="unavailable", messages=["ODK Validate is switched off on this server."], validator=""
        )
    return PreparedVersion(xml, schema, warnings, validation, kind, source, itemsets)


def _parse(xml: bytes) -> FormSchema:
    try:
        return forms.xform.parse_xform(xml)
    except forms.xform.XFormError as err:
        raise XFormError(str(err)) from err


def check_form_id(form_id: str) -> None:
    if not _FORM_ID.match(form_id or "") or ".." in form_id:
        raise XFormError(
            f"The form id {form_id!r} cannot be used: it must be 1-255 characters without "
            "slashes, backslashes, control characters or '..'. Change form_id in the settings sheet."
        )


def check_lengths(schema: FormSchema) -> None:
    """The form's version, title and media names under the length policy (``sync/limits.py``), so a
    form that PostgreSQL could not store is refused on SQLite too, with what to change."""
    values = [("version", schema.version), ("formTitle", schema.title)]
    values += [("fileName", m.name) for m in schema.media]
    for name, value in values:
        why = limits.problem(name, value)
        if why is not None:
            raise XFormError(f"{why} (in the form's {name})", details={"field": name})


def _blocking_warnings(prepared: PreparedVersion) -> list[str]:
    out = list(prepared.warnings)
    if prepared.validation.status == "failed":
        out += [f"ODK Validate: {m}" for m in prepared.validation.messages] or ["ODK Validate failed."]
    return out


def _new_version(
    session: Session,
    *,
    actor: Actor | None,
    form: Form,
    prepared: PreparedVersion,
    store: BlobStore,
    filename: str | None,
    key: ProjectKey | None,
) -> FormVersion:
    xlsform_sha = None
    if prepared.source_bytes is not None:
        xlsform_sha = store_bytes(session, store, prepared.source_bytes).sha256
    previous = form.current_version
    changes: list[dict[str, str]] = []
    if previous is not None:
        old = FormSchema.from_dict(previous.schema)
        changes = [
            {"path": c.path, "oldType": c.old_type, "newType": c.new_type}
            for c in forms.diff.type_changes(old, prepared.schema)
        ]
    version = FormVersion(
        form_id=form.id,
        version=prepared.schema.version or "",
        xml=prepared.xml,
        md5=hashlib.md5(prepared.xml).hexdigest(),
        sha256=hashlib.sha256(prepared.xml).hexdigest(),
        xlsform_sha256=xlsform_sha,
        # A hint from a header, shown only as the download name: clipped rather than refused.
        xlsform_name=limits.clip("fileName", filename) if xlsform_sha else None,
        schema=prepared.schema.to_dict(),
        warnings=prepared.warnings,
        validation_status=prepared.validation.status,
        validation_messages=list(prepared.validation.messages),
        type_changes=changes,
        key_id=key.id if key and prepared.schema.public_key == key.public_key else None,
        created_by_id=actor.user_id if actor else None,
    )
    session.add(version)
    session.flush()
    _attach_expected_media(session, version=version, prepared=prepared, previous=previous, store=store)
    return version


def _attach_expected_media(
    session: Session,
    *,
    version: FormVersion,
    prepared: PreparedVersion,
    previous: FormVersion | None,
    store: BlobStore,
) -> None:
    carried = {a.name: a.blob_sha256 for a in (previous.attachments if previous else []) if a.blob_sha256}
    names = {m.name: m.kind for m in prepared.schema.media}
    if prepared.itemsets_csv is not None:
        names.setdefault("itemsets.csv", "file")
    for name, kind in sorted(names.items()):
        blob = carried.get(name)
        if name == "itemsets.csv" and prepared.itemsets_csv is not None:
            # pyxform produces itemsets.csv itself; Ruta attaches it so nobody has to upload it.
            blob = store_bytes(session, store, prepared.itemsets_csv, "text/csv").sha256
        version.attachments.append(
            FormAttachment(name=name, kind=kind, blob_sha256=blob, updated_at=utcnow() if blob else None)
        )
    session.flush()


def project_key(session: Session, project: Project) -> ProjectKey | None:
    return session.scalar(select(ProjectKey).where(ProjectKey.project_id == project.id))


@dataclass
class UploadResult:
    form: Form
    version: FormVersion
    created: bool


def create_form(
    session: Session,
    *,
    actor: Actor | None,
    project: Project,
    data: bytes,
    store: BlobStore,
    filename: str | None = None,
    fallback_form_id: str | None = None,
    publish: bool = False,
    ignore_warnings: bool = False,
    run_validate: bool = True,
    override_reason: str | None = None,
) -> UploadResult:
    """``POST /v1/projects/{pid}/forms``: a new form with a draft, published at once if asked."""
    key = project_key(session, project)
    prepared = prepare_upload(
        data,
        filename=filename,
        fallback_form_id=fallback_form_id,
        public_key=key.public_key if key else None,
        run_validate=run_validate,
    )
    blocking = _blocking_warnings(prepared)
    if blocking and not ignore_warnings:
        raise WarningsError(details={"warnings": {"xlsFormWarnings": blocking}, "warnings_list": blocking})
    form_id = prepared.schema.form_id
    if (
        session.scalar(select(Form.id).where(Form.project_id == project.id, Form.xml_form_id == form_id))
        is not None
    ):
        raise AlreadyExistsError(
            f"A form with the id {form_id} already exists in this project. Upload a new version as a "
            "draft of that form instead."
        )
    form = Form(project_id=project.id, xml_form_id=form_id, name=prepared.schema.title or form_id)
    session.add(form)
    session.flush()
    version = _new_version(
        session, actor=actor, form=form, prepared=prepared, store=store, filename=filename, key=key
    )
    form.draft_version = version
    audit.record(
        session,
        actor=actor,
        action="form.create",
        project_id=project.id,
        subject_type="form",
        subject_id=form_id,
        details=_version_details(version),
    )
    if publish:
        publish_draft(session, actor=actor, form=form, version=None, override_reason=override_reason)
    session.flush()
    return UploadResult(form, version, True)


def create_draft(
    session: Session,
    *,
    actor: Actor | None,
    form: Form,
    project: Project,
    data: bytes | None,
    store: BlobStore,
    filename: str | None = None,
    ignore_warnings: bool = False,
    run_validate: bool = True,
) -> FormVersion:
    """``POST .../forms/{id}/draft``: a new draft from an upload, or from the published version."""
    key = project_key(session, project)
    if data is None:
        if form.current_version is None:
            raise InvalidValueError(
                "This form has no published version to start a draft from; upload a file."
            )
        data = form.current_version.xml
        filename = None
    prepared = prepare_upload(
        data,
        filename=filename,
        fallback_form_id=form.xml_form_id,
        public_key=key.public_key if key else None,
        run_validate=run_validate,
    )
    if prepared.schema.form_id != form.xml_form_id:
        raise XFormError(
            f"The uploaded form's id is {prepared.schema.form_id!r}, but this form is "
            f"{form.xml_form_id!r}. A new version must keep the form id."
        )
    blocking = _blocking_warnings(prepared)
    if blocking and not ignore_warnings:
        raise WarningsError(details={"warnings": {"xlsFormWarnings": blocking}, "warnings_list": blocking})
    old_draft = form.draft_version
    version = _new_version(
        session, actor=actor, form=form, prepared=prepared, store=store, filename=filename, key=key
    )
    form.draft_version = version
    if old_draft is not None:
        session.delete(old_draft)  # drafts are never served to devices; only the newest one matters
    form.updated_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="form.draft",
        project_id=project.id,
        subject_type="form",
        subject_id=form.xml_form_id,
        details=_version_details(version),
    )
    return version


def served_media(session: Session, form: Form, version: FormVersion) -> set[str]:
    """The version's attachments the server fills itself: ``<list>.csv`` of the project's entity lists."""
    names = [a.name for a in version.attachments if a.blob_sha256 is None]
    return set(entity_serve.datasets_for_attachments(session, project_id=form.project_id, names=names))


def publish_draft(
    session: Session,
    *,
    actor: Actor | None,
    form: Form,
    version: str | None,
    override_reason: str | None = None,
) -> FormVersion:
    """Publish the draft, unless :mod:`app.services.publishing.gate` holds it back and no reason to
    publish anyway was given."""
    draft = form.draft_version
    if draft is None:
        raise NotFoundError("This form has no draft to publish.")
    overridden = publish_gate.check(
        draft, override_reason=override_reason, served=served_media(session, form, draft)
    )
    if version is not None and version != draft.version:
        try:
            xml = rewrite.set_version(draft.xml, version)
        except rewrite.RewriteError as err:
            raise InvalidValueError(f"Cannot set the version: {err}.") from err
        schema = _parse(xml)
        check_lengths(schema)
        draft.xml, draft.version, draft.schema = xml, version, schema.to_dict()
        draft.md5 = hashlib.md5(xml).hexdigest()
        draft.sha256 = hashlib.sha256(xml).hexdigest()
    clash = session.scalar(
        select(FormVersion.id).where(
            FormVersion.form_id == form.id,
            FormVersion.version == draft.version,
            FormVersion.published_at.is_not(None),
        )
    )
    if clash is not None:
        raise FormVersionExistsError(
            f"Version {draft.version!r} of this form is already published. Change the version in the "
            "settings sheet, or publish with ?version=<new version>."
        )
    now = utcnow()
    draft.published_at = now
    draft.published_by_id = actor.user_id if actor else None
    form.current_version = draft
    form.draft_version = None
    form.name = draft.schema.get("title") or form.name
    form.published_at = form.published_at or now
    form.updated_at = now
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="form.publish",
        project_id=form.project_id,
        subject_type="form",
        subject_id=form.xml_form_id,
        details={"version": draft.version},
    )
    if overridden:
        audit.record(
            session,
            actor=actor,
            action="form.publish_override",
            project_id=form.project_id,
            subject_type="form",
            subject_id=form.xml_form_id,
            details={
                "version": draft.version,
                "reason": publish_gate.clean_reason(override_reason),
                "problems": [p.to_dict() for p in overridden],
            },
        )
    _declare_entity_lists(session, actor=actor, form=form, version=draft)
    return draft


def _declare_entity_lists(session: Session, *, actor: Actor | None, form: Form, version: FormVersion) -> None:
    """Publishing a form that writes entities creates its lists and properties (as Central does), so a
    follow-up form can use them before the first submission arrives."""
    declared = entity_submissions.form_entities(session, version.id, version.sha256)
    for declaration in declared.declarations if declared else ():
        if declaration.dataset:
            entity_lists.ensure_dataset(
                session,
                project_id=form.project_id,
                name=declaration.dataset,
                properties=[prop for prop, _path in declaration.properties],
                actor=actor,
            )


def set_state(session: Session, *, actor: Actor, form: Form, state: str) -> Form:
    if state not in FORM_STATES:
        raise InvalidValueError(
            f"A form's state is one of {', '.join(FORM_STATES)}.", details={"field": "state"}
        )
    if form.is_archived and state != form.state:
        raise InvalidValueError(
            "This form is archived. Bring it back from the archive first, then change its state.",
            details={"field": "state"},
        )
    if state != form.state:
        old, form.state, form.updated_at = form.state, state, utcnow()
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="form.state",
            project_id=form.project_id,
            subject_type="form",
            subject_id=form.xml_form_id,
            details={"from": old, "to": state},
        )
    return form


def upload_draft_attachment(
    session: Session,
    *,
    actor: Actor,
    form: Form,
    name: str,
    data: bytes,
    content_type: str | None,
    store: BlobStore,
) -> FormAttachment:
    check_file_name(name)
    draft = form.draft_version
    if draft is None:
        raise NotFoundError("This form has no draft. Create a draft first; published versions never change.")
    attachment = next((a for a in draft.attachments if a.name == name), None)
    if attachment is None:
        expected = ", ".join(a.name for a in draft.attachments) or "none"
        raise NotFoundError(f"The form does not expect a file named {name!r}. Expected: {expected}.")
    stored = store_bytes(session, store, data, content_type)
    attachment.blob_sha256 = stored.sha256
    attachment.updated_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="form.attachment",
        project_id=form.project_id,
        subject_type="form",
        subject_id=form.xml_form_id,
        details={"name": name, "sha256": stored.sha256, "size": stored.size},
    )
    return attachment


def get_form(session: Session, *, project: Project, xml_form_id: str) -> Form:
    form = session.scalar(select(Form).where(Form.project_id == project.id, Form.xml_form_id == xml_form_id))
    if form is None:
        raise NotFoundError(f"No form {xml_form_id!r} in this project.")
    return form


def list_forms(session: Session, *, project: Project) -> list[Form]:
    return list(session.scalars(select(Form).where(Form.project_id == project.id).order_by(Form.xml_form_id)))


def list_versions(session: Session, *, form: Form) -> list[FormVersion]:
    return list(
        session.scalars(
            select(FormVersion)
            .where(FormVersion.form_id == form.id, FormVersion.published_at.is_not(None))
            .order_by(FormVersion.published_at.desc(), FormVersion.id.desc())
        )
    )


def get_version(session: Session, *, form: Form, version: str) -> FormVersion:
    row = session.scalar(
        select(FormVersion).where(
            FormVersion.form_id == form.id,
            FormVersion.version == version,
            FormVersion.published_at.is_not(None),
        )
    )
    if row is None:
        raise NotFoundError(f"Form {form.xml_form_id!r} has no published version {version!r}.")
    return row


def version_by_id(session: Session, *, form: Form, version_id: int) -> FormVersion:
    """A published version of ``form``, or its current draft, by row id (the admin's links)."""
    row = session.get(FormVersion, version_id)
    if (
        row is None
        or row.form_id != form.id
        or (row.published_at is None and row.id != form.draft_version_id)
    ):
        raise NotFoundError(f"Form {form.xml_form_id!r} has no such version.")
    return row


def user_names(session: Session, user_ids: set[int | None]) -> dict[int, str]:
    """Display names (or e-mails) of the people who uploaded or published versions."""
    wanted = {i for i in user_ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(select(User.id, User.display_name, User.email).where(User.id.in_(wanted)))
    return {uid: name or email for uid, name, email in rows}


def set_archived(session: Session, *, actor: Actor, form: Form, archived: bool) -> Form:
    """Archive a form (closed, offered to no device, listed apart; submissions kept) or bring it back
    (still closed: a manager reopens it deliberately)."""
    if archived != form.is_archived:
        form.is_archived = archived
        if archived:
            form.state = "closed"
        form.updated_at = utcnow()
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="form.archive" if archived else "form.unarchive",
            project_id=form.project_id,
            subject_type="form",
            subject_id=form.xml_form_id,
        )
    return form


def _version_details(version: FormVersion) -> dict[str, Any]:
    return {
        "version": version.version,
        "md5": version.md5,
        "warnings": len(version.warnings),
        "validation": version.validation_status,
    }
