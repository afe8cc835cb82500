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

import functools
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, aliased

from app.auth.actor import Actor
from app.blobs import BlobStore
from app.db import utcnow
from app.errors import (
    ForbiddenError,
    FormClosedError,
    FormNotFoundError,
    FormVersionNotFoundError,
    IdentifierError,
    StaleEditError,
    SubmissionConflictError,
    SubmissionXMLError,
    UnsafeXMLError,
)
from app.models import (
    AppUser,
    AppUserForm,
    Comment,
    Form,
    FormVersion,
    Project,
    ReviewEvent,
    Submission,
    SubmissionAttachment,
    SubmissionVersion,
)
from app.services import jobs, quality, tombstones, version_cache
from app.services.accounts import app_users
from app.services.audit import events as audit
from app.services.blobs import check_file_name, store_bytes
from app.services.entities import from_submissions as entity_submissions
from app.services.protection import record_scope, row_access
from app.services.response import activities
from sync import chain, limits
from sync.submission import BAD_IDENTIFIER, ParsedSubmission, SubmissionError, parse_submission
from sync.values import extract_values


@dataclass(frozen=True)
class IncomingFile:
    name: str
    data: bytes
    content_type: str | None = None


@dataclass
class IngestResult:
    status: int  # 201 when something was added, 202 when nothing was new
    submission_id: int
    version_id: int
    added_files: list[str] = field(default_factory=list)
    missing_files: list[str] = field(default_factory=list)
    session: Session | None = field(default=None, repr=False)
    purged: bool = False  # a purged record resent: nothing stored (no submission_id, no version_id)
    # The audit event of that resend (written): a caller that refuses the request hands it to the error
    # (RutaError.audit_rows), so it outlives the rollback.
    purged_audit: dict[str, Any] | None = None

    # The hot path writes rows without building ORM objects; a caller that wants them loads them here
    # (no query when the session already holds them).
    @property
    def submission(self) -> Submission:
        assert self.session is not None
        row = self.session.get(Submission, self.submission_id)
        assert row is not None
        return row

    @property
    def version(self) -> SubmissionVersion:
        assert self.session is not None
        row = self.session.get(SubmissionVersion, self.version_id)
        assert row is not None
        return row


@dataclass(frozen=True)
class Origin:
    """Who sent it and how: recorded on every version."""

    device_id: str | None = None
    user_agent: str | None = None
    hub_id: int | None = None


def origin(device_id: str | None, user_agent: str | None, hub_id: int | None = None) -> Origin:
    """The sender's identifiers under the length policy (``sync/limits.py``): a deviceID too long to
    store is refused; the User-Agent, which the enumerator cannot change, is clipped."""
    why = limits.problem("deviceID", device_id)
    if why is not None:
        raise IdentifierError(why, details={"field": "deviceID"})
    return Origin(device_id=device_id or None, user_agent=limits.clip("userAgent", user_agent), hub_id=hub_id)


def parse(xml: bytes) -> ParsedSubmission:
    try:
        return parse_submission(xml)
    except SubmissionError as err:
        if err.code == "unsafe_xml":
            raise UnsafeXMLError() from err
        if err.code == BAD_IDENTIFIER:
            raise IdentifierError(err.message) from err
        raise SubmissionXMLError(err.message, details={"reason": err.code}) from err


@dataclass(frozen=True)
class Destination:
    """Where one submission goes, all read by one query (``find_destination``): the hot path of every
    sync pays a single round trip before it writes."""

    form: Form
    version_id: int | None  # the published version the device filled in (old ones are accepted)
    version_sha256: str | None
    version_label: str | None
    allowed: bool  # the device may use this form
    existing_id: int | None  # a stored version with this instanceID
    existing_sha256: str | None
    in_a_chain: bool  # a stored record or edit already names this instanceID


def find_destination(
    session: Session, *, actor: Actor, project: Project, parsed: ParsedSubmission
) -> Destination:
    """The form, the version filled in, the device's permission and what is already stored under this
    instanceID, in one query."""
    app_user = actor.app_user
    limited = app_user is not None and not app_user.all_forms
    row = session.execute(
        _destination_query(limited),
        {
            "d_project": project.id,
            "d_form": parsed.form_id,
            "d_version": parsed.version or "",
            "d_instance": parsed.instance_id,
            "d_app_user": app_user.id if app_user is not None else None,
        },
    ).first()
    if row is None or row[0].current_version_id is None:
        raise FormNotFoundError(
            f"The form {parsed.form_id!r} is not on this server for this project. Update the blank forms."
        )
    form, version_id, version_sha, label, may_use, existing_id, existing_sha, in_a_chain = row
    return Destination(
        form, version_id, version_sha, label, bool(may_use), existing_id, existing_sha, bool(in_a_chain)
    )


@dataclass(frozen=True)
class DeviceDestination:
    """A device token's POST, read by one query: who sends (None: no live token), the project asked for
    (None: no such project) and the destination (None: no such form in it)."""

    app_user: AppUser | None
    project: Project | None
    destination: Destination | None


def find_device_destination(
    session: Session, *, token: str, project_id: int, parsed: ParsedSubmission
) -> DeviceDestination:
    """The token's app user, the project and everything ``find_destination`` reads, in one round trip:
    the most frequent request of all (every phone's every submission) pays one query before it writes.
    The caller still runs every check on what comes back (revoked, other project, permission)."""
    row = session.execute(
        _device_destination_query(),
        app_users.device_token_params(token, project_id)
        | {"d_form": parsed.form_id, "d_version": parsed.version or "", "d_instance": parsed.instance_id},
    ).first()
    if row is None:
        return DeviceDestination(None, None, None)
    app_user, project, form, version_id, version_sha, label, may_use, existing_id, existing_sha, chained = row
    if form is None or form.current_version_id is None:
        return DeviceDestination(app_user, project, None)
    destination = Destination(
        form, version_id, version_sha, label, bool(may_use), existing_id, existing_sha, bool(chained)
    )
    return DeviceDestination(app_user, project, destination)


def _destination_columns(allowed: Any) -> tuple[list[Any], Any, Any]:
    """The form, the published version filled in, ``allowed``, an existing version with this instanceID
    and whether a record or edit names it; shared by both destination queries."""
    fv, sv = aliased(FormVersion), aliased(SubmissionVersion)
    iid: sa.BindParameter[str] = sa.bindparam("d_instance")
    chained = sa.or_(
        sa.exists().where(Submission.form_id == Form.id, Submission.instance_id == iid),
        sa.exists().where(SubmissionVersion.form_id == Form.id, SubmissionVersion.deprecated_id == iid),
    )
    columns = [Form, fv.id, fv.sha256, fv.version, allowed, sv.id, sv.sha256, chained]
    version_on = sa.and_(
        fv.form_id == Form.id, fv.version == sa.bindparam("d_version"), fv.published_at.is_not(None)
    )
    return columns, (fv, version_on), (sv, sa.and_(sv.form_id == Form.id, sv.instance_id == iid))


@functools.cache
def _destination_query(limited: bool) -> sa.Select[Any]:
    """Built once per process: building a statement (aliases, coercions) costs more than running it."""
    allowed: Any = (
        sa.exists().where(
            AppUserForm.app_user_id == sa.bindparam("d_app_user"), AppUserForm.form_id == Form.id
        )
        if limited
        else sa.true()
    )
    columns, version, existing = _destination_columns(allowed)
    return (
        select(*columns)
        .outerjoin(*version)
        .outerjoin(*existing)
        .where(Form.project_id == sa.bindparam("d_project"), Form.xml_form_id == sa.bindparam("d_form"))
    )


@functools.cache
def _device_destination_query() -> sa.Select[Any]:
    """``_destination_query`` from the token's side: every join is outer, so a token that is live but
    asks for another project or an unknown form still comes back (as a 403/404 rather than a 401)."""
    allowed = sa.or_(
        AppUser.all_forms,
        sa.exists().where(AppUserForm.app_user_id == AppUser.id, AppUserForm.form_id == Form.id),
    )
    columns, version, existing = _destination_columns(allowed)
    form_on = sa.and_(Form.project_id == Project.id, Form.xml_form_id == sa.bindparam("d_form"))
    return (
        app_users.device_token_query(*columns)
        .outerjoin(Form, form_on)
        .outerjoin(*version)
        .outerjoin(*existing)
    )


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
    destination: Destination | None = None,
    edit_of: Submission | None = None,
) -> IngestResult:
    """Apply PROTOCOL.md's rules to one submission. Flushes; the caller commits. ``destination`` is
    what ``find_device_destination`` already read for this request (else it is read here).
    ``edit_of``: the API's edit of this record, which must replace its current version."""
    parsed = parsed or parse(xml)
    if edit_of is not None:
        check_edit_is_current(session, submission=edit_of, parsed=parsed)
    for f in files:
        check_file_name(f.name)
    dest = destination or find_destination(session, actor=actor, project=project, parsed=parsed)
    form = dest.form
    actor.require(session, "submission.create", project)
    if not dest.allowed:
        raise ForbiddenError("This device is not allowed to send submissions for this form.")
    if form.state == "closed":
        raise FormClosedError(
            f"The form {form.xml_form_id!r} is closed and no longer accepts submissions. Ask your "
            "supervisor which form to use now."
        )
    if tombstones.purged_among(session, form.id, (parsed.instance_id, parsed.deprecated_id)):
        # Purged for good: stored never again, answered like a record already received (tombstones).
        resend = audit.event_row(
            actor=actor,
            action=tombstones.RESEND_ACTION,
            project_id=project.id,
            subject_type="form",
            subject_id=form.xml_form_id,
            details={"deviceId": origin.device_id, "hub": origin.hub_id},
        )
        audit.record_row(session, resend)
        return IngestResult(status=202, submission_id=0, version_id=0, purged=True, purged_audit=resend)
    sha = hashlib.sha256(xml).hexdigest()
    if dest.existing_id is not None:
        if dest.existing_sha256 != sha:
            raise SubmissionConflictError(
                f"A different submission with instanceID {parsed.instance_id} is already stored; "
                "nothing was changed. Edits must carry a deprecatedID."
            )
        existing = session.get(SubmissionVersion, dest.existing_id)
        assert existing is not None
        return _add_files(session, version=existing, files=files, store=store, actor=actor, project=project)
    if dest.version_id is None or dest.version_sha256 is None:
        raise FormVersionNotFoundError(
            f"Version {parsed.version or ''!r} of form {form.xml_form_id!r} is not known to the server. "
            "Update the blank form on the device and fill the submission in again."
        )
    new = NewVersion(
        form=form,
        version_id=dest.version_id,
        version_sha256=dest.version_sha256,
        version_label=dest.version_label or "",
        parsed=parsed,
        xml=xml,
        sha=sha,
        extracted=extract(session, dest.version_id, dest.version_sha256, parsed),
        origin=origin,
        received_at=utcnow(),
        organisation_id=row_access.collecting_organisation(session, actor=actor, project=project),
    )
    if parsed.deprecated_id is None and not dest.in_a_chain:
        result = _create_record(session, actor=actor, project=project, new=new, files=files, store=store)
        if form.xml_form_id == activities.ACTIVITY_FORM_ID and parsed.envelope is None:
            # The bundled 5W form: each new submission is also a row of the activity reports.
            activities.import_submission(
                session,
                actor=actor,
                project=project,
                values=new.extracted.values,
                instance_id=parsed.instance_id,
            )
    else:
        result = _create(session, actor=actor, project=project, new=new, files=files, store=store)
        edited = session.get(Submission, result.submission_id)
        if form.xml_form_id == activities.ACTIVITY_FORM_ID and parsed.envelope is None and edited is not None:
            # An edit of a 5W submission replaces its activity row: the record counts once, as edited.
            activities.replace_submission(
                session,
                actor=actor,
                project=project,
                values=new.extracted.values,
                instance_id=edited.instance_id,
            )
    if parsed.envelope is None:
        # A record's first version writes its entities; an edit re-applies them as new versions.
        apply = (
            entity_submissions.apply_submission
            if parsed.deprecated_id is None
            else entity_submissions.apply_edit
        )
        apply(
            session,
            actor=actor,
            project_id=project.id,
            form_version_id=new.version_id,
            form_version_sha256=new.version_sha256,
            root=parsed.root,
            submission_id=result.submission_id,
            submission_version_id=result.version_id,
        )
    return result


@dataclass(frozen=True)
class Extracted:
    """What the form version's field types make of the instance (nothing for an encrypted one)."""

    values: dict[str, Any]
    problems: list[dict[str, Any]]
    expected_files: list[str]  # the files it names, each once


@dataclass(frozen=True)
class NewVersion:
    """A version about to be stored: everything both write paths need."""

    form: Form
    version_id: int
    version_sha256: str
    version_label: str
    parsed: ParsedSubmission
    xml: bytes
    sha: str
    extracted: Extracted
    origin: Origin
    received_at: datetime
    organisation_id: int  # the organisation the record is collected for (row_access)


def extract(session: Session, version_id: int, version_sha256: str, parsed: ParsedSubmission) -> Extracted:
    """What the version's field types make of the instance, with the schema from the one cache."""
    if parsed.envelope is not None:
        return Extracted({}, [], list(dict.fromkeys(_expected_names(parsed, []))))
    extracted = extract_values(
        parsed.root, version_cache.compiled_schema(session, version_id, version_sha256)
    )
    return Extracted(
        extracted.values,
        [{"path": p.path, "value": p.value, "message": p.message} for p in extracted.problems],
        list(dict.fromkeys(_expected_names(parsed, extracted.attachment_names))),
    )


def _expected_names(parsed: ParsedSubmission, values_attachments: list[str]) -> list[str]:
    if parsed.envelope is not None:
        names = list(parsed.envelope.media_file_names)
        if parsed.envelope.xml_file_name:
            names.append(parsed.envelope.xml_file_name)
        return names
    return list(values_attachments)


def _create_record(
    session: Session,
    *,
    actor: Actor,
    project: Project,
    new: NewVersion,
    files: list[IncomingFile],
    store: BlobStore,
) -> IngestResult:
    """The common case on every sync: the first version of a new record, in no edit chain. Plain
    INSERTs, nothing read back: the record, its version, their files, one audit event. The unique
    ``(form_id, instance_id)`` of both tables still decides a race (the loser's INSERT fails)."""
    rows = new_rows(
        actor=actor, new=new, names=[f.name for f in files], store_file=_blob_writer(session, store, files)
    )
    # Flags go into the row before its INSERT (no query unless the form checks for duplicates).
    flag_rows(session, project=project, actor=actor, rows=[rows])
    # The indicator refresh and webhook dispatch this record causes, queued in its transaction.
    queued = jobs.submission_change_rows(project.id, new.received_at)
    submission_id, version_id = _write_record(session, rows.record, rows.version, rows.event)
    # Its own statement, not a CTE of the one above: that statement would pass 4 KB, past which psycopg
    # parses it again on every request (measured: 1.5 ms of CPU more than this round trip).
    jobs.enqueue_rows(session, queued)
    if rows.attachments:
        session.execute(
            sa.insert(_ATTACHMENTS), [row | {"submission_version_id": version_id} for row in rows.attachments]
        )
    return IngestResult(201, submission_id, version_id, rows.added, rows.missing, session)


_SUBMISSIONS = cast(sa.Table, Submission.__table__)
_VERSIONS = cast(sa.Table, SubmissionVersion.__table__)
_ATTACHMENTS = cast(sa.Table, SubmissionAttachment.__table__)
# Built once: the values come as parameters (building a statement per request costs more than running it).
_INSERT_RECORD = sa.insert(_SUBMISSIONS).returning(_SUBMISSIONS.c.id)
_INSERT_VERSION = sa.insert(_VERSIONS).returning(_VERSIONS.c.id)
_SET_CURRENT = (
    sa.update(_SUBMISSIONS)
    .where(_SUBMISSIONS.c.id == sa.bindparam("u_record"))
    .values(current_version_id=sa.bindparam("u_version"))
)


def _write_record(
    session: Session, record: dict[str, Any], version: dict[str, Any], event: dict[str, Any]
) -> tuple[int, int]:
    if session.get_bind().dialect.name == "postgresql":
        return _write_record_postgresql(session, record, version, event)
    return _write_record_plain(session, record, version, event)


def _write_record_plain(
    session: Session, record: dict[str, Any], version: dict[str, Any], event: dict[str, Any]
) -> tuple[int, int]:
    """Record, version and audit event by plain statements (SQLite; any database)."""
    submission_id = session.execute(_INSERT_RECORD, record).scalar_one()
    version_id = session.execute(_INSERT_VERSION, version | {"submission_id": submission_id}).scalar_one()
    # The two tables point at each other: the record learns its current version once both exist.
    session.execute(_SET_CURRENT, {"u_record": submission_id, "u_version": version_id})
    audit.record_row(session, event)
    return submission_id, version_id


def _write_record_postgresql(
    session: Session, record: dict[str, Any], version: dict[str, Any], event: dict[str, Any]
) -> tuple[int, int]:
    """Record, version, the record's current version and the audit event in one statement (one round
    trip instead of four). Both ids are drawn first, so each row can name the other; the foreign keys
    are checked at the end of the statement, when both rows exist."""
    statement = _record_statement_postgresql(tuple(record), tuple(version), tuple(event))
    params = (
        {f"r_{k}": v for k, v in record.items()}
        | {f"v_{k}": v for k, v in version.items()}
        | {f"e_{k}": v for k, v in event.items()}
    )
    submission_id, version_id = session.execute(statement, params).one()
    return submission_id, version_id


def _with_defaults(table: sa.Table, row: dict[str, Any]) -> dict[str, Any]:
    """The row with the Python-side column defaults an INSERT ... SELECT does not apply by itself."""
    out = dict(row)
    for column in table.c:
        default = column.default
        if column.name in out or column.primary_key or not isinstance(default, sa.ColumnDefault):
            continue
        out[column.name] = default.arg(None) if default.is_callable else default.arg
    return out


@functools.cache
def _record_statement_postgresql(
    record_keys: tuple[str, ...], version_keys: tuple[str, ...], event_keys: tuple[str, ...]
) -> sa.Select[Any]:
    def params(table: sa.Table, prefix: str, keys: tuple[str, ...]) -> list[sa.BindParameter[Any]]:
        return [sa.bindparam(f"{prefix}{k}", type_=table.c[k].type) for k in keys]

    ids = sa.select(
        sa.func.nextval(sa.func.pg_get_serial_sequence(_SUBMISSIONS.name, "id")).label("sid"),
        sa.func.nextval(sa.func.pg_get_serial_sequence(_VERSIONS.name, "id")).label("vid"),
    ).cte("ids")
    record = sa.insert(_SUBMISSIONS).from_select(
        ["id", "current_version_id", *record_keys],
        sa.select(ids.c.sid, ids.c.vid, *params(_SUBMISSIONS, "r_", record_keys)),
    )
    version = sa.insert(_VERSIONS).from_select(
        ["id", "submission_id", *version_keys],
        sa.select(ids.c.vid, ids.c.sid, *params(_VERSIONS, "v_", version_keys)),
    )
    event = sa.insert(audit.EVENTS).from_select(
        list(event_keys), sa.select(*params(audit.EVENTS, "e_", event_keys))
    )
    return sa.select(ids.c.sid, ids.c.vid).add_cte(
        record.cte("new_record"), version.cte("new_version"), event.cte("new_event")
    )


def _record_row(*, actor: Actor, new: NewVersion) -> dict[str, Any]:
    """The columns of a new record (``submissions``); the hot path inserts this dict as it is, so a
    value computed at ingest (e.g. data-quality flags) is added here."""
    parsed = new.parsed
    return {
        "form_id": new.form.id,
        "instance_id": parsed.deprecated_id or parsed.instance_id,
        "instance_name": parsed.instance_name,
        "organisation_id": new.organisation_id,
        "submitter_user_id": actor.user_id,
        "submitter_app_user_id": actor.app_user_id,
        "device_id": new.origin.device_id,
        "user_agent": new.origin.user_agent,
        "is_encrypted": parsed.envelope is not None,
        "created_at": new.received_at,
    }


def _version_row(*, actor: Actor, new: NewVersion) -> dict[str, Any]:
    """The columns of a new version, but for ``submission_id``."""
    parsed, envelope = new.parsed, new.parsed.envelope
    return {
        "form_id": new.form.id,
        "form_version_id": new.version_id,
        "instance_id": parsed.instance_id,
        "deprecated_id": parsed.deprecated_id,
        "xml": new.xml,
        "sha256": new.sha,
        "values": new.extracted.values,
        "value_problems": new.extracted.problems,
        "instance_name": parsed.instance_name,
        "encrypted_key": envelope.encrypted_key_b64 if envelope else None,
        "encrypted_signature": envelope.signature_b64 if envelope else None,
        "submitter_user_id": actor.user_id,
        "submitter_app_user_id": actor.app_user_id,
        "device_id": new.origin.device_id,
        "user_agent": new.origin.user_agent,
        "hub_id": new.origin.hub_id,
        "received_at": new.received_at,
    }


@dataclass(frozen=True)
class NewRows:
    """Every row a new version adds, as the ORM would bind them: the one rule for all four writers
    (the plain statements, PostgreSQL's single statement, the edit path and the batch's bulk load;
    ``tests/app/test_submission_row_parity.py`` compares every column they store)."""

    new: NewVersion
    record: dict[str, Any]  # ``submissions``, but id and current_version_id; flag_rows adds the flags
    version: dict[str, Any]  # ``submission_versions``, but id and submission_id
    attachments: list[dict[str, Any]]  # ``submission_attachments`` by name, but submission_version_id
    event: dict[str, Any]  # the ``audit_events`` row of its submission.create
    added: list[str]  # names of the files stored with it
    missing: list[str]  # names it expects that were not sent


def new_rows(
    *,
    actor: Actor,
    new: NewVersion,
    names: Sequence[str],
    store_file: Callable[[int], str],
) -> NewRows:
    """The rows of ``new``: the files it names, then any other file sent with it (kept, marked
    unexpected); a name sent twice counts once, the first copy. ``store_file(i)`` writes the i-th file
    durably (fsynced, before the commit) and gives its sha256; it is called only for files kept.
    ``names``: the names of the files sent, in the order sent."""
    by_name: dict[str, dict[str, Any]] = {
        name: {"name": name, "is_expected": True, "blob_sha256": None, "received_at": None}
        for name in new.extracted.expected_files
    }
    added: list[str] = []
    for i, name in enumerate(names):
        row = by_name.get(name)
        if row is not None and row["blob_sha256"] is not None:
            continue
        if row is None:
            row = by_name[name] = {"name": name, "is_expected": False}
        row |= {"blob_sha256": store_file(i), "received_at": new.received_at}
        added.append(name)
    expected = new.extracted.expected_files
    missing = [n for n in expected if by_name[n]["blob_sha256"] is None]
    record = _record_row(actor=actor, new=new) | {
        "attachments_expected": len(expected),
        "attachments_present": len(expected) - len(missing),
    }
    event = audit.event_row(
        actor=actor,
        action="submission.create",
        project_id=new.form.project_id,
        subject_type="submission",
        subject_id=new.parsed.instance_id,
        details=_audit_details(new, added),
        created_at=new.received_at,
    )
    attachments = sorted(by_name.values(), key=lambda r: r["name"])
    # Complete rows: COPY and INSERT ... SELECT apply no Python-side column default by themselves.
    return NewRows(
        new,
        _with_defaults(_SUBMISSIONS, record),
        _with_defaults(_VERSIONS, _version_row(actor=actor, new=new)),
        attachments,
        _with_defaults(audit.EVENTS, event),
        added,
        missing,
    )


def flag_rows(session: Session, *, project: Project, actor: Actor, rows: list[NewRows]) -> None:
    """The quality flags of new records, into their rows before the INSERT (one duplicate query per
    form, none when no form checks for duplicates)."""
    quality.assess_rows(
        session,
        project=project,
        actor=actor,
        rows=[
            quality.NewRow(
                r.new.form,
                quality.fields_for_id(session, r.new.version_id, r.new.version_sha256),
                None if r.new.parsed.envelope is not None else r.new.extracted.values,
                r.record,
            )
            for r in rows
        ],
    )


def _blob_writer(session: Session, store: BlobStore, files: list[IncomingFile]) -> Callable[[int], str]:
    return lambda i: store_bytes(session, store, files[i].data, files[i].content_type).sha256


def _audit_details(new: NewVersion, added: list[str]) -> dict[str, Any]:
    return {
        "form": new.form.xml_form_id,
        "version": new.version_label,
        "deprecatedId": new.parsed.deprecated_id,
        "files": added,
        "hub": new.origin.hub_id,
    }


def _create(
    session: Session,
    *,
    actor: Actor,
    project: Project,
    new: NewVersion,
    files: list[IncomingFile],
    store: BlobStore,
) -> IngestResult:
    """An edit, or a version whose instanceID a stored record or edit already names: the edit chain
    decides which version is current (ORM, with the chain queries)."""
    rows = new_rows(
        actor=actor, new=new, names=[f.name for f in files], store_file=_blob_writer(session, store, files)
    )
    submission = _submission_for_chain(session, form=new.form, parsed=new.parsed)
    if submission is None:
        submission = Submission(**rows.record)  # its counts and flags are settled below
        session.add(submission)
        session.flush()
    version = SubmissionVersion(submission_id=submission.id, **rows.version)
    version.attachments = [SubmissionAttachment(**row) for row in rows.attachments]
    session.add(version)
    session.flush()  # the unique (form_id, instance_id) is checked here: a racing copy fails now
    _carry_files_forward(session, form_id=new.form.id, version=version)
    _resolve_chain(session, submission=submission)
    form_version = session.get(FormVersion, new.version_id)  # edits are rare: the ORM path may read
    assert form_version is not None
    quality.assess(
        session,
        project=project,
        form=new.form,
        submission=submission,
        version=version,
        form_version=form_version,
        actor=actor,
    )
    audit.record_row(session, rows.event)
    jobs.enqueue_rows(session, jobs.submission_change_rows(project.id, new.received_at))
    missing = [a.name for a in version.attachments if a.is_expected and a.blob_sha256 is None]
    return IngestResult(201, submission.id, version.id, rows.added, missing, session)


def _add_files(
    session: Session,
    *,
    version: SubmissionVersion,
    files: list[IncomingFile],
    store: BlobStore,
    actor: Actor,
    project: Project,
) -> IngestResult:
    """Files for a stored version: a split POST, a resend, the API's upload. Collect may send one
    submission's POSTs in parallel, so the record row is locked first and the version's files read
    after the lock: each request then sees the files the others committed, and the count it writes is
    derived from the attachment rows, never from what this request alone added (a lost update)."""
    submission = _lock_record(session, version.submission_id)
    session.expire(version, ["attachments"])  # read after the lock, not before it
    added = _store_files(session, version=version, files=files, store=store)
    # Recounted even when nothing was added: a resend repairs a count an older server got wrong.
    changed = _update_counts(session, submission)
    if added or changed:
        form = session.get(Form, submission.form_id)
        assert form is not None
        quality.refresh_attachments(submission, form)
        session.flush()
    if added:
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
    return IngestResult(201 if added else 202, submission.id, version.id, added, missing, session)


def _lock_record(session: Session, submission_id: int) -> Submission:
    """The record, locked until the commit (``FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE``
    already serialises writers), its columns read fresh."""
    return session.scalars(
        select(Submission)
        .where(Submission.id == submission_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def _store_files(
    session: Session, *, version: SubmissionVersion, files: list[IncomingFile], store: BlobStore
) -> list[str]:
    """Store files this version does not have yet. Files it does not name are kept too, marked
    unexpected: nothing a device sent is thrown away."""
    by_name = {a.name: a for a in version.attachments}
    carried = _previous_files(session, version) if files and version.deprecated_id else {}
    added: list[str] = []
    for incoming in files:
        attachment = by_name.get(incoming.name)
        if attachment is not None and attachment.deleted_at is not None:
            continue  # deleted on its own (trash or purged): a resend does not bring it back
        # Already present: resends and split POSTs repeat files. Unless the file was carried forward
        # from the version this edit replaces and the device now sends other bytes: the edit's own
        # file wins over the one it inherited.
        if (
            attachment is not None
            and attachment.blob_sha256 is not None
            and (
                carried.get(incoming.name) != attachment.blob_sha256
                or hashlib.sha256(incoming.data).hexdigest() == attachment.blob_sha256
            )
        ):
            continue
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


def _previous_files(session: Session, version: SubmissionVersion) -> dict[str, str]:
    """The files of the version an edit replaces, by name (empty when it has not arrived)."""
    previous = aliased(SubmissionVersion)
    rows = session.execute(
        select(SubmissionAttachment.name, SubmissionAttachment.blob_sha256)
        .join(previous, previous.id == SubmissionAttachment.submission_version_id)
        .where(
            previous.form_id == version.form_id,
            previous.instance_id == version.deprecated_id,
            SubmissionAttachment.blob_sha256.is_not(None),
            record_scope.live_file(),
        )
    )
    return {name: sha for name, sha in rows if sha is not None}


def _carry_files_forward(session: Session, *, form_id: int, version: SubmissionVersion) -> None:
    """An edit that does not send a file again keeps the replaced version's file of the same name, as
    ODK Central does (Collect, Enketo and pyodk send an edit's XML without unchanged photos). Both
    directions, since versions may arrive in any order: the files this edit lacks come from the
    version it replaces, and edits of this version that arrived first get the files they lack from it."""
    targets = [version]
    targets += session.scalars(
        select(SubmissionVersion).where(
            SubmissionVersion.form_id == form_id, SubmissionVersion.deprecated_id == version.instance_id
        )
    )
    for target in targets:
        if target.deprecated_id is None:
            continue
        lacking = [a for a in target.attachments if a.is_expected and a.blob_sha256 is None]
        if not lacking:
            continue
        previous = _previous_files(session, target)
        for attachment in lacking:
            if attachment.name in previous:
                attachment.blob_sha256 = previous[attachment.name]
                attachment.received_at = utcnow()
    session.flush()


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
    versions = [
        chain.Version(instance_id=iid, deprecated_id=dep, received_order=vid) for vid, iid, dep in rows
    ]
    resolution = chain.resolve_chain(versions)
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
    _flag_conflicts(submission, chain.conflicting_edits(versions))
    session.flush()
    _update_counts(session, submission)


def _flag_conflicts(submission: Submission, conflicts: tuple[chain.Conflict, ...]) -> None:
    """Two edits of one version are both kept, and the later one is flagged for a reviewer (always on,
    not a form setting: it is a fact about the record, not a heuristic)."""
    if not conflicts:
        quality.clear_flag(submission, quality.EDIT_CONFLICT)
        return
    quality.set_flag(
        submission,
        quality.EDIT_CONFLICT,
        "; ".join(
            f"{c.instance_id} edits {c.deprecated_id}, which {c.earlier_id} had already edited"
            for c in conflicts
        )
        + ". Both edits are kept: check which one is right.",
        {
            "edits": [
                {"instanceId": c.instance_id, "deprecatedId": c.deprecated_id, "earlierId": c.earlier_id}
                for c in conflicts
            ]
        },
    )


def _update_counts(session: Session, submission: Submission) -> bool:
    """The record's file counts, derived in SQL from its current version's attachment rows (the one
    place they are computed after the first POST). True when they changed."""
    if submission.current_version_id is None:
        return False
    session.flush()
    expected, present = session.execute(
        select(sa.func.count(), sa.func.count(SubmissionAttachment.blob_sha256)).where(
            SubmissionAttachment.submission_version_id == submission.current_version_id,
            SubmissionAttachment.is_expected.is_(True),
        )
    ).one()
    if (submission.attachments_expected, submission.attachments_present) == (expected, present):
        return False
    submission.attachments_expected, submission.attachments_present = expected, present
    session.flush()
    return True


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


def check_edit_is_current(session: Session, *, submission: Submission, parsed: ParsedSubmission) -> None:
    """The API's edit (PUT) must replace the record's current version, as in ODK Central: an edit of an
    older version would be stored beside the current one and change nothing a client sees. The record is
    locked first, so of two edits of one version sent at once the second is refused too. Resending an
    edit already stored is left to ``ingest`` (same bytes: nothing new; other bytes: 409)."""
    locked = _lock_record(session, submission.id)
    current = session.get(SubmissionVersion, locked.current_version_id)
    assert current is not None
    if parsed.deprecated_id == current.instance_id:
        return
    stored = session.scalar(
        select(SubmissionVersion.submission_id).where(
            SubmissionVersion.form_id == locked.form_id, SubmissionVersion.instance_id == parsed.instance_id
        )
    )
    if stored == locked.id:
        return
    raise StaleEditError(
        f"This edit replaces {parsed.deprecated_id}, but the submission's current version is "
        f"{current.instance_id}: someone edited it since. Nothing was changed. Apply your change to the "
        f"current version and send it with deprecatedID {current.instance_id}.",
        details={"deprecatedId": parsed.deprecated_id, "currentInstanceId": current.instance_id},
    )


@dataclass(frozen=True)
class VersionInfo:
    """One version of a record as the versions list shows it."""

    version: SubmissionVersion
    current: bool
    conflict: chain.Conflict | None  # an edit of a version another edit had already replaced


def versions_of(session: Session, submission: Submission) -> list[VersionInfo]:
    """Every version of a record, newest first (as Central lists them), each saying whether it is the
    current one and whether it is a conflicting edit (the same rule as the ``edit_conflict`` flag)."""
    rows = list(
        session.scalars(
            select(SubmissionVersion)
            .where(SubmissionVersion.submission_id == submission.id)
            .order_by(SubmissionVersion.id.desc())
        )
    )
    conflicts = {
        c.instance_id: c
        for c in chain.conflicting_edits(chain.Version(v.instance_id, v.deprecated_id, v.id) for v in rows)
    }
    return [VersionInfo(v, v.id == submission.current_version_id, conflicts.get(v.instance_id)) for v in rows]
