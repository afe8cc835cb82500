"""Deleting records: the trash, restore, purge with blobs, retention per form and subject requests.

A deletion moves a submission to the trash (``deleted_at``); every read path leaves it out from then on
(``record_scope.visible``). It can be restored for ``RESTORE_DAYS``; after that the ``retention.purge``
job deletes its rows (versions, files, comments, review events, canonical rows and facts) and the
blobs no other record uses. A form's ``retention_days`` purges records received longer ago than that,
in the same job; ``schedule`` says in advance what the next runs will purge and when.

Purges are audited with counts only: never an instance ID, a value or a file name of what went, so the
audit log does not keep what the purge removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.blobs import BlobStore
from app.db import utcnow
from app.errors import ConflictError, InvalidValueError, NotFoundError
from app.models import (
    Blob,
    Comment,
    ExportRun,
    Form,
    FormAttachment,
    FormVersion,
    Project,
    ReviewEvent,
    Submission,
    SubmissionAttachment,
    SubmissionVersion,
)
from app.services import jobs, tombstones
from app.services.audit import events as audit
from app.services.indicators import records as indicator_records
from app.services.protection import record_scope

RESTORE_DAYS = 30
MAX_RETENTION_DAYS = 36500
PURGE_CHUNK = 200
PURGE_KIND = "retention.purge"


class RestoreWindowError(ConflictError):
    code = "409.60"
    default_message = "This submission cannot be restored."


@dataclass
class PurgeCounts:
    submissions: int = 0
    versions: int = 0
    attachments: int = 0
    blobs_deleted: int = 0
    blobs_kept: int = 0  # still used by another record, so left in the store

    def add(self, other: PurgeCounts) -> None:
        for name in ("submissions", "versions", "attachments", "blobs_deleted", "blobs_kept"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def to_json(self) -> dict[str, int]:
        return {
            "submissions": self.submissions,
            "versions": self.versions,
            "attachments": self.attachments,
            "blobsDeleted": self.blobs_deleted,
            "blobsKept": self.blobs_kept,
        }


def find(
    session: Session,
    form: Form,
    instance_id: str,
    *,
    trashed: bool = False,
    rows: ColumnElement[bool] | None = None,
) -> Submission:
    """A submission by its instance ID (an edit's own instanceID finds its record too): a live one, or
    with ``trashed`` one in the trash, of the rows the asker may see (``rows``, ``row_access``'s filter).
    Anything else is a 404, as for a record that never existed."""
    scope = record_scope.trashed() if trashed else record_scope.visible()
    if rows is not None:
        scope = sa.and_(scope, rows)
    by_version = sa.select(SubmissionVersion.submission_id).where(
        SubmissionVersion.form_id == form.id, SubmissionVersion.instance_id == instance_id
    )
    sub = session.scalar(
        sa.select(Submission)
        .where(
            Submission.form_id == form.id,
            scope,
            sa.or_(Submission.instance_id == instance_id, Submission.id.in_(by_version)),
        )
        .limit(1)
    )
    if sub is None:
        where = "in the trash" if trashed else "for this form"
        raise NotFoundError(f"No submission {instance_id!r} {where}.")
    return sub


def _changed(session: Session, project_id: int) -> None:
    indicator_records.invalidate(session, project_id=project_id)
    jobs.after_submission_change(session, project_id)


def trash(session: Session, *, actor: Actor, project: Project, form: Form, submission: Submission) -> None:
    """To the trash: gone from every read at once, restorable for ``RESTORE_DAYS``."""
    submission.deleted_at = utcnow()
    submission.deleted_by_id = actor.user_id
    audit.record(
        session,
        actor=actor,
        action="submission.delete",
        project_id=project.id,
        subject_type="submission",
        subject_id=submission.instance_id,
        details={"form": form.xml_form_id},
    )
    _changed(session, project.id)
    session.flush()


def restore_deadline(submission: Submission) -> datetime | None:
    return None if submission.deleted_at is None else submission.deleted_at + timedelta(days=RESTORE_DAYS)


def restore(
    session: Session,
    *,
    actor: Actor,
    project: Project,
    form: Form,
    submission: Submission,
    now: datetime | None = None,
) -> None:
    deadline = restore_deadline(submission)
    if deadline is None:
        raise RestoreWindowError("This submission is not in the trash; there is nothing to restore.")
    if (now or utcnow()) > deadline:
        raise RestoreWindowError(
            f"This submission was deleted more than {RESTORE_DAYS} days ago and is waiting to be purged; "
            "it can no longer be restored."
        )
    submission.deleted_at = None
    submission.deleted_by_id = None
    audit.record(
        session,
        actor=actor,
        action="submission.restore",
        project_id=project.id,
        subject_type="submission",
        subject_id=submission.instance_id,
        details={"form": form.xml_form_id},
    )
    _changed(session, project.id)
    session.flush()


def _file(session: Session, submission: Submission, name: str, *, trashed: bool) -> SubmissionAttachment:
    """The current version's file ``name``, live (to trash it) or in the trash (to restore it)."""
    found = session.scalar(
        sa.select(SubmissionAttachment).where(
            SubmissionAttachment.submission_version_id == submission.current_version_id,
            SubmissionAttachment.name == name,
            SubmissionAttachment.blob_sha256.is_not(None),
            SubmissionAttachment.deleted_at.is_not(None) if trashed else record_scope.live_file(),
        )
    )
    if found is None:
        where = "in the trash" if trashed else "stored"
        raise NotFoundError(f"The submission has no file named {name!r} {where}.")
    return found


def trash_file(
    session: Session, *, actor: Actor, project: Project, form: Form, submission: Submission, name: str
) -> SubmissionAttachment:
    """One file to the trash, the record kept: gone from every read at once (``record_scope.live_file``),
    restorable for ``RESTORE_DAYS``, then purged with its blob unless another record uses the bytes."""
    attachment = _file(session, submission, name, trashed=False)
    attachment.deleted_at = utcnow()
    attachment.deleted_by_id = actor.user_id
    audit.record(
        session,
        actor=actor,
        action="attachment.delete",
        project_id=project.id,
        subject_type="submission",
        subject_id=submission.instance_id,
        details={"form": form.xml_form_id, "name": name},
    )
    session.flush()
    return attachment


def restore_file(
    session: Session,
    *,
    actor: Actor,
    project: Project,
    form: Form,
    submission: Submission,
    name: str,
    now: datetime | None = None,
) -> SubmissionAttachment:
    attachment = _file(session, submission, name, trashed=True)
    assert attachment.deleted_at is not None
    if (now or utcnow()) > attachment.deleted_at + timedelta(days=RESTORE_DAYS):
        raise RestoreWindowError(
            f"This file was deleted more than {RESTORE_DAYS} days ago and is waiting to be purged; it can "
            "no longer be restored."
        )
    attachment.deleted_at = None
    attachment.deleted_by_id = None
    audit.record(
        session,
        actor=actor,
        action="attachment.restore",
        project_id=project.id,
        subject_type="submission",
        subject_id=submission.instance_id,
        details={"form": form.xml_form_id, "name": name},
    )
    session.flush()
    return attachment


def purge_files(session: Session, *, store: BlobStore, form: Form, now: datetime) -> PurgeCounts:
    """The trashed files of ``form`` past the restore window: the row stays, marked deleted and empty
    (so the record does not wait for the file and a resend does not bring it back), and the blob goes
    unless another record references the bytes. Audited with counts only."""
    counts = PurgeCounts()
    rows = session.scalars(
        sa.select(SubmissionAttachment)
        .join(SubmissionVersion, SubmissionVersion.id == SubmissionAttachment.submission_version_id)
        .where(
            SubmissionVersion.form_id == form.id,
            SubmissionAttachment.deleted_at.is_not(None),
            SubmissionAttachment.deleted_at <= _trash_cutoff(now),
            SubmissionAttachment.blob_sha256.is_not(None),
        )
    ).all()
    shas = {a.blob_sha256 for a in rows if a.blob_sha256 is not None}
    for a in rows:
        a.blob_sha256 = None
        a.received_at = None
    counts.attachments = len(rows)
    session.flush()
    for sha in sorted(shas):
        if _blob_in_use(session, sha):
            counts.blobs_kept += 1
            continue
        session.execute(sa.delete(Blob).where(Blob.sha256 == sha))
        store.delete(sha)
        counts.blobs_deleted += 1
    if rows:
        audit.record(
            session,
            actor=None,
            action="attachment.purge",
            project_id=form.project_id,
            subject_type="form",
            subject_id=form.xml_form_id,
            details={"reason": "trash", **counts.to_json()},
        )
    return counts


def list_trashed(
    session: Session,
    form: Form,
    *,
    limit: int = 1000,
    offset: int = 0,
    rows: ColumnElement[bool] | None = None,
) -> list[Submission]:
    return list(
        session.scalars(
            sa.select(Submission)
            .where(Submission.form_id == form.id, record_scope.trashed(), sa.true() if rows is None else rows)
            .order_by(Submission.deleted_at, Submission.id)
            .limit(limit)
            .offset(offset)
        )
    )


# Purging ---------------------------------------------------------------------------------------


def _blob_in_use(session: Session, sha: str) -> bool:
    """Whether any record still points at the blob (the content-addressed store keeps one copy of
    equal bytes, so another submission, a form's media or XLSForm, or an export file may share it)."""
    uses = (
        sa.select(SubmissionAttachment.id).where(SubmissionAttachment.blob_sha256 == sha),
        sa.select(FormAttachment.id).where(FormAttachment.blob_sha256 == sha),
        sa.select(FormVersion.id).where(FormVersion.xlsform_sha256 == sha),
        sa.select(ExportRun.id).where(ExportRun.blob_sha256 == sha),
    )
    return any(session.scalar(sa.select(use.exists())) for use in uses)


def purge(
    session: Session, *, store: BlobStore, submission_ids: list[int], reason: str = "trash"
) -> PurgeCounts:
    """Delete these submissions for good, and the blobs nothing else references. Flushes only; the
    job commits. Bytes are deleted from the store after the rows (a retry after a failure finds the
    rows gone or still there, and deletes what is left: an absent blob is no error)."""
    counts = PurgeCounts()
    for start in range(0, len(submission_ids), PURGE_CHUNK):
        counts.add(_purge_chunk(session, store, submission_ids[start : start + PURGE_CHUNK], reason))
    return counts


def _purge_chunk(session: Session, store: BlobStore, ids: list[int], reason: str) -> PurgeCounts:
    counts = PurgeCounts()
    if not ids:
        return counts
    # Tombstones first, in the same transaction: a device resending any version of these records (or
    # an edit naming one) is answered and nothing is stored again (app/services/tombstones.py).
    named = list(
        session.execute(sa.select(Submission.form_id, Submission.instance_id).where(Submission.id.in_(ids)))
    )
    named += session.execute(
        sa.select(SubmissionVersion.form_id, SubmissionVersion.instance_id).where(
            SubmissionVersion.submission_id.in_(ids)
        )
    ).all()
    tombstones.record(session, pairs=[(int(f), str(i)) for f, i in named], reason=reason)
    version_ids = select_ids(
        session, sa.select(SubmissionVersion.id).where(SubmissionVersion.submission_id.in_(ids))
    )
    shas: set[str] = set()
    shas.update(
        sha
        for sha in session.scalars(
            sa.select(SubmissionAttachment.blob_sha256).where(
                SubmissionAttachment.submission_version_id.in_(version_ids),
                SubmissionAttachment.blob_sha256.is_not(None),
            )
        )
        if sha is not None
    )
    indicator_records.delete_rows(session, ids)
    counts.attachments = _delete(
        session, SubmissionAttachment, SubmissionAttachment.submission_version_id.in_(version_ids)
    )
    _delete(session, Comment, Comment.submission_id.in_(ids))
    _delete(session, ReviewEvent, ReviewEvent.submission_id.in_(ids))
    session.execute(
        sa.update(Submission)
        .where(Submission.id.in_(ids))
        .values(current_version_id=None)
        .execution_options(synchronize_session=False)
    )
    counts.versions = _delete(session, SubmissionVersion, SubmissionVersion.id.in_(version_ids))
    counts.submissions = _delete(session, Submission, Submission.id.in_(ids))
    session.flush()
    for sha in sorted(shas):
        if _blob_in_use(session, sha):
            counts.blobs_kept += 1
            continue
        session.execute(sa.delete(Blob).where(Blob.sha256 == sha))
        store.delete(sha)
        counts.blobs_deleted += 1
    return counts


def select_ids(session: Session, query: sa.Select[Any]) -> list[int]:
    return [int(i) for i in session.scalars(query)]


def _delete(session: Session, model: Any, condition: Any) -> int:
    result = session.execute(sa.delete(model).where(condition).execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


# Retention and the purge job ---------------------------------------------------------------------


def set_retention(session: Session, *, actor: Actor, form: Form, days: int | None) -> None:
    if days is not None and (
        isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_RETENTION_DAYS
    ):
        raise InvalidValueError(
            f"retentionDays is a whole number of days from 1 to {MAX_RETENTION_DAYS}, or null to keep "
            "records until they are deleted.",
            details={"field": "retentionDays"},
        )
    old = form.retention_days
    form.retention_days = days
    audit.record(
        session,
        actor=actor,
        action="form.retention",
        project_id=form.project_id,
        subject_type="form",
        subject_id=form.xml_form_id,
        details={"from": old, "to": days},
    )
    session.flush()


@dataclass(frozen=True)
class Due:
    """What one purge reason will remove from a form, and from when."""

    reason: str  # "trash" (restore window over) or "retention" (older than retentionDays)
    count: int  # records due by ``at`` (the end of the look-ahead)
    due_now: int  # records the next run purges
    next_at: datetime | None  # when the earliest record not yet due becomes due


@dataclass
class Schedule:
    form: Form
    retention_days: int | None
    horizon_days: int
    due: list[Due] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "xmlFormId": self.form.xml_form_id,
            "retentionDays": self.retention_days,
            "restoreDays": RESTORE_DAYS,
            "horizonDays": self.horizon_days,
            "purges": [
                {
                    "reason": d.reason,
                    "dueNow": d.due_now,
                    "dueWithinHorizon": d.count,
                    "nextAt": d.next_at.isoformat() if d.next_at else None,
                }
                for d in self.due
            ],
        }


def _trash_cutoff(now: datetime) -> datetime:
    return now - timedelta(days=RESTORE_DAYS)


def _retention_cutoff(form: Form, now: datetime) -> datetime | None:
    return None if form.retention_days is None else now - timedelta(days=form.retention_days)


def _due_condition(form: Form, now: datetime) -> sa.ColumnElement[bool]:
    conds: list[sa.ColumnElement[bool]] = [
        sa.and_(record_scope.trashed(), Submission.deleted_at <= _trash_cutoff(now))
    ]
    cutoff = _retention_cutoff(form, now)
    if cutoff is not None:
        conds.append(Submission.created_at < cutoff)
    return sa.and_(Submission.form_id == form.id, sa.or_(*conds))


def schedule(
    session: Session, form: Form, *, horizon_days: int = 30, now: datetime | None = None
) -> Schedule:
    """What the purge job will delete from ``form`` now and within ``horizon_days``, and when the next
    record becomes due (the admin and ``GET .../retention`` say it in advance)."""
    now = now or utcnow()
    later = now + timedelta(days=horizon_days)
    out = Schedule(form, form.retention_days, horizon_days)
    in_trash = sa.and_(Submission.form_id == form.id, record_scope.trashed())
    out.due.append(
        _due(
            session,
            "trash",
            in_trash,
            Submission.deleted_at,
            _trash_cutoff(now),
            _trash_cutoff(later),
            timedelta(days=RESTORE_DAYS),
        )
    )
    cutoff = _retention_cutoff(form, now)
    if cutoff is not None and form.retention_days is not None:
        out.due.append(
            _due(
                session,
                "retention",
                Submission.form_id == form.id,
                Submission.created_at,
                cutoff,
                cutoff + timedelta(days=horizon_days),
                timedelta(days=form.retention_days),
            )
        )
    return out


def _due(
    session: Session,
    reason: str,
    base: sa.ColumnElement[bool],
    column: Any,
    cutoff: datetime,
    later_cutoff: datetime,
    keep: timedelta,
) -> Due:
    now_count = int(session.scalar(sa.select(sa.func.count()).where(base, column < cutoff)) or 0)
    later_count = int(session.scalar(sa.select(sa.func.count()).where(base, column < later_cutoff)) or 0)
    earliest = session.scalar(sa.select(sa.func.min(column)).where(base, column >= cutoff))
    return Due(reason, later_count, now_count, None if earliest is None else earliest + keep)


def enqueue_purge(session: Session, *, delay: timedelta = timedelta(0)) -> None:
    jobs.enqueue(session, PURGE_KIND, key="retention", delay=delay)


def enqueue_subject_purge(session: Session, *, form: Form, submission_ids: list[int]) -> None:
    """A subject's erasure: purge these trashed records now, without waiting out the restore window."""
    jobs.enqueue(session, PURGE_KIND, {"form": form.id, "submissions": submission_ids})


def run_purge(
    session: Session, *, store: BlobStore, payload: dict[str, Any], now: datetime | None = None
) -> dict[int, PurgeCounts]:
    """The ``retention.purge`` job: the subject request's records named in ``payload``, or else every
    form's trashed records past the restore window and records past its retention. One audit event per
    form and reason, with counts only."""
    now = now or utcnow()
    done: dict[int, PurgeCounts] = {}
    if "submissions" in payload:
        form = session.get(Form, int(payload["form"]))
        if form is None:
            return done
        ids = select_ids(
            session,
            sa.select(Submission.id).where(
                Submission.form_id == form.id,
                Submission.id.in_([int(i) for i in payload["submissions"]]),
                record_scope.trashed(),
            ),
        )
        done[form.id] = _purge_audited(session, store, form, ids, reason="subject_request")
        return done
    for form in session.scalars(sa.select(Form).order_by(Form.id)):
        trash_ids = select_ids(
            session,
            sa.select(Submission.id).where(
                Submission.form_id == form.id,
                record_scope.trashed(),
                Submission.deleted_at <= _trash_cutoff(now),
            ),
        )
        purge_files(session, store=store, form=form, now=now)
        counts = _purge_audited(session, store, form, trash_ids, reason="trash")
        cutoff = _retention_cutoff(form, now)
        if cutoff is not None:
            old_ids = select_ids(
                session,
                sa.select(Submission.id).where(Submission.form_id == form.id, Submission.created_at < cutoff),
            )
            counts.add(_purge_audited(session, store, form, old_ids, reason="retention"))
        if counts.submissions:
            done[form.id] = counts
    return done


def _purge_audited(
    session: Session, store: BlobStore, form: Form, ids: list[int], *, reason: str
) -> PurgeCounts:
    if not ids:
        return PurgeCounts()
    counts = purge(session, store=store, submission_ids=ids, reason=reason)
    audit.record(
        session,
        actor=None,
        action="submission.purge",
        project_id=form.project_id,
        subject_type="form",
        subject_id=form.xml_form_id,
        details={"reason": reason, "retentionDays": form.retention_days, **counts.to_json()},
    )
    _changed(session, form.project_id)
    return counts


# Subject requests ------------------------------------------------------------------------------


def set_identifier_field(session: Session, *, actor: Actor, form: Form, name: Any) -> None:
    """The question whose answer identifies a person (a registration or case number), for subject
    requests; null clears it."""
    if name is not None and (not isinstance(name, str) or not 0 < len(name) <= 255):
        raise InvalidValueError(
            "identifierField is the name of a question of this form, or null.",
            details={"field": "identifierField"},
        )
    form.settings = {**(form.settings or {}), "identifierField": name}
    audit.record(
        session,
        actor=actor,
        action="form.identifier_field",
        project_id=form.project_id,
        subject_type="form",
        subject_id=form.xml_form_id,
        details={"identifierField": name},
    )
    session.flush()


def identifier_field(form: Form) -> str | None:
    value = (form.settings or {}).get("identifierField")
    return value if isinstance(value, str) and value else None


def find_subject(
    session: Session, form: Form, *, instance_id: str | None = None, identifier: str | None = None
) -> list[Submission]:
    """A person's live records in ``form``: by instance ID, or by the value of the form's declared
    identifier field (``settings["identifierField"]``, a question name) in the current version."""
    if instance_id:
        try:
            return [find(session, form, instance_id)]
        except NotFoundError:
            return []
    name = identifier_field(form)
    if name is None:
        raise InvalidValueError(
            "This form declares no identifier field; set identifierField on the form first, or search by "
            "instanceId.",
            details={"field": "identifierField"},
        )
    if not identifier:
        raise InvalidValueError("Send instanceId or identifier.", details={"field": "identifier"})
    found = []
    rows = session.execute(
        sa.select(Submission, SubmissionVersion.values)
        .join(SubmissionVersion, SubmissionVersion.id == Submission.current_version_id)
        .where(Submission.form_id == form.id, record_scope.visible(), Submission.is_encrypted.is_(False))
        .order_by(Submission.id)
    )
    for sub, values in rows:
        if _value_of(values or {}, name) == identifier:
            found.append(sub)
    return found


def _value_of(values: dict[str, Any], name: str) -> str | None:
    """The identifier's answer: a top-level question, or one inside groups (first match)."""
    if name in values:
        value = values[name]
        return None if value is None else str(value)
    for value in values.values():
        if isinstance(value, dict):
            found = _value_of(value, name)
            if found is not None:
                return found
    return None
