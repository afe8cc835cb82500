"""Submission ingest: PROTOCOL.md's rules, applied to one instance XML and the files sent with it.

- a new instanceID -> stored, 201;
- the same instanceID with byte-identical XML -> idempotent: files not yet present are added (201),
  or nothing was new (202);
- the same instanceID with different XML -> 409, nothing changes;
- a deprecatedID -> an edit: a new version of the same record, whichever order versions arrive in;
  the current version is decided by the chain (``sync.chain``), never by arrival order.

Files are written to the blob store (fsynced) before the caller commits, and the caller answers only
after the commit: an acknowledged submission is durable. Uniqueness comes from database constraints,
not process memory, so two app servers racing on one instanceID produce one row: the loser's flush
fails, the request retries once and finds the winner's row.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.blobs import BlobStore
from app.db import utcnow
from app.errors import (
    ForbiddenError,
    FormClosedError,
    FormNotFoundError,
    FormVersionNotFoundError,
    SubmissionConflictError,
    SubmissionXMLError,
    UnsafeXMLError,
)
from app.models import (
    Comment,
    Form,
    FormVersion,
    Project,
    ReviewEvent,
    Submission,
    SubmissionAttachment,
    SubmissionVersion,
)
from app.services import app_users, audit, quality
from app.services.blobs import check_file_name, store_bytes
from forms.schema import FormSchema
from sync import chain
from sync.submission import ParsedSubmission, SubmissionError, parse_submission
from sync.values import compile_schema, extract_values


@dataclass(frozen=True)
class IncomingFile:
    name: str
    data: bytes
    content_type: str | None = None


@dataclass
class IngestResult:
    status: int  # 201 when something was added, 202 when nothing was new
    submission: Submission
    version: SubmissionVersion
    added_files: list[str] = field(default_factory=list)
    missing_files: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Origin:
    """Who sent it and how: recorded on every version."""

    device_id: str | None = None
    user_agent: str | None = None
    hub_id: int | None = None


def parse(xml: bytes) -> ParsedSubmission:
    try:
        return parse_submission(xml)
    except SubmissionError as err:
        if err.code == "unsafe_xml":
            raise UnsafeXMLError() from err
        raise SubmissionXMLError(err.message, details={"reason": err.code}) from err


def find_form(session: Session, *, project: Project, form_id: str) -> Form:
    form = session.scalar(select(Form).where(Form.project_id == project.id, Form.xml_form_id == form_id))
    if form is None or form.current_version_id is None:
        raise FormNotFoundError(
            f"The form {form_id!r} is not on this server for this project. Update the blank forms."
        )
    return form


def find_form_version(session: Session, *, form: Form, version: str | None) -> FormVersion:
    """The published version the device filled in; old published versions are accepted."""
    wanted = version or ""
    current = form.current_version
    if current is not None and current.version == wanted:
        return current
    row = session.scalar(
        select(FormVersion).where(
            FormVersion.form_id == form.id,
            FormVersion.version == wanted,
            FormVersion.published_at.is_not(None),
        )
    )
    if row is None:
        raise FormVersionNotFoundError(
            f"Version {wanted!r} of form {form.xml_form_id!r} is not known to the server. Update the "
            "blank form on the device and fill the submission in again."
        )
    return row


_COMPILED: dict[tuple[int, str], Any] = {}


def _compiled_for(version: FormVersion) -> Any:
    """The compiled schema of a form version, cached per process. Published versions are immutable and
    the key includes their sha256, so the cache can never serve a stale schema."""
    key = (version.id, version.sha256)
    compiled = _COMPILED.get(key)
    if compiled is None:
        if len(_COMPILED) > 256:
            _COMPILED.clear()
        compiled = _COMPILED[key] = compile_schema(FormSchema.from_dict(version.schema))
    return compiled


def ingest(
    session: Session,
    *,
    actor: Actor,
    project: Project,
    xml: bytes,
    files: list[IncomingFile],
    store: BlobStore,
    origin: Origin,
    parsed: ParsedSubmission | None = None,
) -> IngestResult:
    """Apply PROTOCOL.md's rules to one submission. Flushes; the caller commits."""
    parsed = parsed or parse(xml)
    for f in files:
        check_file_name(f.name)
    form = find_form(session, project=project, form_id=parsed.form_id)
    actor.require(session, "submission.create", project)
    if actor.app_user is not None and not app_users.may_use_form(session, actor.app_user, form):
        raise ForbiddenError("This device is not allowed to send submissions for this form.")
    if form.state == "closed":
        raise FormClosedError(
            f"The form {form.xml_form_id!r} is closed and no longer accepts submissions. Ask your "
            "supervisor which form to use now."
        )
    sha = hashlib.sha256(xml).hexdigest()
    existing = session.scalar(
        select(SubmissionVersion).where(
            SubmissionVersion.form_id == form.id, SubmissionVersion.instance_id == parsed.instance_id
        )
    )
    if existing is not None:
        if existing.sha256 != sha:
            raise SubmissionConflictError(
                f"A different submission with instanceID {parsed.instance_id} is already stored; "
                "nothing was changed. Edits must carry a deprecatedID."
            )
        return _add_files(session, version=existing, files=files, store=store, actor=actor, project=project)
    form_version = find_form_version(session, form=form, version=parsed.version)
    return _create(
        session,
        actor=actor,
        project=project,
        form=form,
        form_version=form_version,
        parsed=parsed,
        xml=xml,
        sha=sha,
        files=files,
        store=store,
        origin=origin,
    )


def _expected_names(parsed: ParsedSubmission, values_attachments: list[str]) -> list[str]:
    if parsed.envelope is not None:
        names = list(parsed.envelope.media_file_names)
        if parsed.envelope.xml_file_name:
            names.append(parsed.envelope.xml_file_name)
        return names
    return list(values_attachments)


def _create(
    session: Session,
    *,
    actor: Actor,
    project: Project,
    form: Form,
    form_version: FormVersion,
    parsed: ParsedSubmission,
    xml: bytes,
    sha: str,
    files: list[IncomingFile],
    store: BlobStore,
    origin: Origin,
) -> IngestResult:
    if parsed.envelope is None:
        extracted = extract_values(parsed.root, _compiled_for(form_version))
        values, problems, attachment_names = extracted.values, extracted.problems, extracted.attachment_names
    else:
        values, problems, attachment_names = {}, [], []
    expected = _expected_names(parsed, attachment_names)
    submission = _submission_for_chain(session, form=form, parsed=parsed)
    now = utcnow()
    is_new_record = submission is None
    if submission is None:
        submission = Submission(
            form_id=form.id,
            instance_id=parsed.deprecated_id or parsed.instance_id,
            submitter_user_id=actor.user_id,
            submitter_app_user_id=actor.app_user_id,
            device_id=origin.device_id,
            user_agent=origin.user_agent,
            is_encrypted=parsed.envelope is not None,
            created_at=now,
        )
        session.add(submission)
        session.flush()
    version = SubmissionVersion(
        submission_id=submission.id,
        form_id=form.id,
        form_version_id=form_version.id,
        instance_id=parsed.instance_id,
        deprecated_id=parsed.deprecated_id,
        xml=xml,
        sha256=sha,
        values=values,
        value_problems=[{"path": p.path, "value": p.value, "message": p.message} for p in problems],
        instance_name=parsed.instance_name,
        encrypted_key=parsed.envelope.encrypted_key_b64 if parsed.envelope else None,
        encrypted_signature=parsed.envelope.signature_b64 if parsed.envelope else None,
        submitter_user_id=actor.user_id,
        submitter_app_user_id=actor.app_user_id,
        device_id=origin.device_id,
        user_agent=origin.user_agent,
        hub_id=origin.hub_id,
        received_at=now,
    )
    for name in dict.fromkeys(expected):
        version.attachments.append(SubmissionAttachment(name=name, is_expected=True))
    session.add(version)
    session.flush()  # the unique (form_id, instance_id) is checked here: a racing copy fails now
    added = _store_files(session, version=version, files=files, store=store)
    if is_new_record and parsed.deprecated_id is None:
        # The common case, a first version with no chain: it is current, and its counts are in memory.
        # Skipping the chain queries saves several round trips on the hot path of every sync.
        submission.current_version_id = version.id
        submission.instance_name = version.instance_name
        expected_rows = [a for a in version.attachments if a.is_expected]
        submission.attachments_expected = len(expected_rows)
        submission.attachments_present = sum(1 for a in expected_rows if a.blob_sha256 is not None)
    else:
        _resolve_chain(session, submission=submission)
    quality.assess(
        session,
        project=project,
        form=form,
        submission=submission,
        version=version,
        form_version=form_version,
        actor=actor,
    )
    audit.record(
        session,
        actor=actor,
        action="submission.create",
        project_id=project.id,
        subject_type="submission",
        subject_id=parsed.instance_id,
        details={
            "form": form.xml_form_id,
            "version": form_version.version,
            "deprecatedId": parsed.deprecated_id,
            "files": added,
            "hub": origin.hub_id,
        },
    )
    missing = [a.name for a in version.attachments if a.is_expected and a.blob_sha256 is None]
    return IngestResult(201, submission, version, added, missing)


def _add_files(
    session: Session,
    *,
    version: SubmissionVersion,
    files: list[IncomingFile],
    store: BlobStore,
    actor: Actor,
    project: Project,
) -> IngestResult:
    added = _store_files(session, version=version, files=files, store=store)
    submission = session.get(Submission, version.submission_id)
    assert submission is not None
    if added:
        _update_counts(session, submission)
        form = session.get(Form, submission.form_id)
        assert form is not None
        quality.refresh_attachments(submission, form)
        audit.record(
            session,
            actor=actor,
            action="submission.attachments",
            project_id=project.id,
            subject_type="submission",
            subject_id=version.instance_id,
            details={"files": added},
        )
    missing = [a.name for a in version.attachments if a.is_expected and a.blob_sha256 is None]
    return IngestResult(201 if added else 202, submission, version, added, missing)


def _store_files(
    session: Session, *, version: SubmissionVersion, files: list[IncomingFile], store: BlobStore
) -> list[str]:
    """Store files this version does not have yet. Files it does not name are kept too, marked
    unexpected: nothing a device sent is thrown away."""
    by_name = {a.name: a for a in version.attachments}
    added: list[str] = []
    for incoming in files:
        attachment = by_name.get(incoming.name)
        if attachment is not None and attachment.blob_sha256 is not None:
            continue  # already present: resends and split POSTs repeat files
        stored = store_bytes(session, store, incoming.data, incoming.content_type)
        if attachment is None:
            attachment = SubmissionAttachment(name=incoming.name, is_expected=False)
            version.attachments.append(attachment)
            by_name[incoming.name] = attachment
        attachment.blob_sha256 = stored.sha256
        attachment.received_at = utcnow()
        added.append(incoming.name)
    session.flush()
    return added


def _submission_for_chain(session: Session, *, form: Form, parsed: ParsedSubmission) -> Submission | None:
    """The logical submission this version belongs to, merging two chains that turn out to be one."""
    ids = {parsed.instance_id} | ({parsed.deprecated_id} if parsed.deprecated_id else set())
    linked_versions = select(SubmissionVersion.submission_id).where(
        SubmissionVersion.form_id == form.id,
        or_(SubmissionVersion.instance_id.in_(ids), SubmissionVersion.deprecated_id.in_(ids)),
    )
    candidates = list(
        session.scalars(
            select(Submission)
            .where(
                Submission.form_id == form.id,
                or_(Submission.instance_id.in_(ids), Submission.id.in_(linked_versions)),
            )
            .order_by(Submission.id)
        )
    )
    if not candidates:
        return None
    survivor, others = candidates[0], candidates[1:]
    for other in others:
        _merge(session, survivor=survivor, other=other)
    return survivor


def _merge(session: Session, *, survivor: Submission, other: Submission) -> None:
    """Two chains met (an edit arrived before the version that links them): keep one record."""
    for model in (SubmissionVersion, ReviewEvent, Comment):
        session.execute(
            update(model).where(model.submission_id == other.id).values(submission_id=survivor.id)
        )
    other.current_version_id = None
    session.flush()
    session.delete(other)
    session.flush()
    session.expire(survivor)


def _resolve_chain(session: Session, *, submission: Submission) -> None:
    rows = session.execute(
        select(SubmissionVersion.id, SubmissionVersion.instance_id, SubmissionVersion.deprecated_id)
        .where(SubmissionVersion.submission_id == submission.id)
        .order_by(SubmissionVersion.id)
    ).all()
    resolution = chain.resolve_chain(
        chain.Version(instance_id=iid, deprecated_id=dep, received_order=vid) for vid, iid, dep in rows
    )
    by_instance = {iid: vid for vid, iid, _ in rows}
    current_id = by_instance[resolution.current_id]
    if submission.instance_id != resolution.root_id:
        submission.instance_id = resolution.root_id
    was_edited = len(rows) > 1
    moved = submission.current_version_id != current_id
    if moved:
        submission.current_version_id = current_id
        current = session.get(SubmissionVersion, current_id)
        assert current is not None
        submission.instance_name = current.instance_name
    # An edit makes the record "edited" whichever version arrived last: when the original arrives after
    # its edit the current version does not move, but the record has still been edited (PROTOCOL.md:
    # resolved by the chain, never by arrival order). A review made since is kept.
    if was_edited and (moved or submission.review_state == "received"):
        submission.review_state = "edited"
    submission.updated_at = utcnow() if was_edited else submission.updated_at
    session.flush()
    _update_counts(session, submission)


def _update_counts(session: Session, submission: Submission) -> None:
    if submission.current_version_id is None:
        return
    attachments = list(
        session.scalars(
            select(SubmissionAttachment).where(
                SubmissionAttachment.submission_version_id == submission.current_version_id,
                SubmissionAttachment.is_expected.is_(True),
            )
        )
    )
    submission.attachments_expected = len(attachments)
    submission.attachments_present = sum(1 for a in attachments if a.blob_sha256 is not None)
    session.flush()


def add_files_to_version(
    session: Session,
    *,
    actor: Actor,
    project: Project,
    version: SubmissionVersion,
    files: list[IncomingFile],
    store: BlobStore,
) -> IngestResult:
    """Attach files a stored version expects (the API's attachment upload)."""
    for f in files:
        check_file_name(f.name)
    return _add_files(session, version=version, files=files, store=store, actor=actor, project=project)
