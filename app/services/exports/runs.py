"""Submission exports made by a worker: asked for with a POST (202 and an id), followed with GETs
(status and progress), downloaded once done, purged when they expire (``EXPORT_TTL_HOURS``).

The worker prepares the export as the person who asked (their permissions and sensitive-data grant
at run time, audited as ``submission.export`` like a streamed download), reads it page by page in its
own session (ending each page's transaction, as the streamed downloads do), writes the file to the blob
store and then, in the job's transaction, records it done: a worker killed mid-export leaves a run
that a retry finishes, never two files.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.blobs import BlobStore
from app.db import Database, utcnow
from app.errors import (
    ConflictError,
    ExportGoneError,
    ForbiddenError,
    InvalidValueError,
    NotFoundError,
    RutaError,
)
from app.exports.options import parse_options
from app.models import Blob, ExportRun, Form, Project, Submission, User
from app.services import jobs
from app.services.audit import events as audit
from app.services.exports import tables as exports
from app.services.exports.render import FORMATS, check_for, render
from app.services.protection import classification, disclosure, record_scope

EXPORT_ATTEMPTS = 3


def request_export(
    session: Session, *, actor: Actor, project: Project, form: Form, fmt: str, options: Mapping[str, str]
) -> ExportRun:
    """Check the options now (a 400 here, not a failed job later) and queue the run."""
    if fmt not in FORMATS:
        raise InvalidValueError(f"format must be one of {', '.join(FORMATS)}.", details={"field": "format"})
    actor.require(session, "submission.export", project)
    if "passphrase" in options:
        raise InvalidValueError(
            "Export jobs cannot decrypt (the passphrase would have to be stored); download an encrypted "
            "form's export directly with POST .../submissions.csv.zip.",
            details={"field": "passphrase"},
        )
    plain, share_class, _asked = _share_options(options)
    parse_options(plain)
    if form.current_version is None:
        raise NotFoundError("This form has no published version yet, so there is nothing to export.")
    # The class is known now: a share below it is refused at once, not by a failed job later.
    classification.check_share(share_class, classification.microdata_class(form), what="export")
    run = ExportRun(
        project_id=project.id, form_id=form.id, fmt=fmt, options=dict(options), created_by_id=actor.user_id
    )
    session.add(run)
    session.flush()
    jobs.enqueue(
        session, "exports.run", {"export": run.id}, key=f"export:{run.id}", max_attempts=EXPORT_ATTEMPTS
    )
    audit.record(
        session,
        actor=actor,
        action="export.request",
        project_id=project.id,
        subject_type="export",
        subject_id=run.id,
        details={"form": form.xml_form_id, "format": fmt, "options": dict(options)},
    )
    return run


_SHARE_OPTIONS = ("shareClass", "riskCheck")


def _share_options(options: Mapping[str, str]) -> tuple[dict[str, str], str | None, bool]:
    """The export options proper, and the two that govern sharing (as the direct download takes them)."""
    plain = {k: v for k, v in options.items() if k not in _SHARE_OPTIONS}
    asked = str(options.get("riskCheck", "")).lower()
    if asked not in ("", "true", "false", "1", "0", "yes", "no"):
        raise InvalidValueError("riskCheck must be true or false.", details={"option": "riskCheck"})
    return plain, options.get("shareClass") or None, asked in ("true", "1", "yes")


def get_run(session: Session, *, actor: Actor, project: Project, form: Form, run_id: int) -> ExportRun:
    """A run of this form, seen only by whoever asked for it (it carries their sensitive-data rights)
    or an administrator."""
    actor.require(session, "submission.export", project)
    run = session.get(ExportRun, run_id)
    if run is None or run.project_id != project.id or run.form_id != form.id:
        raise NotFoundError("No such export of this form.")
    if run.created_by_id != actor.user_id and not actor.is_admin:
        raise ForbiddenError("This export was asked for by someone else; ask for your own.")
    return run


def download(session: Session, *, actor: Actor, project: Project, run: ExportRun) -> ExportRun:
    if run.status == "expired":
        raise ExportGoneError()
    if run.status != "done" or run.blob_sha256 is None:
        raise ConflictError(f"The export is {run.status}, not ready yet; poll its status until it is done.")
    audit.record(
        session,
        actor=actor,
        action="export.download",
        project_id=project.id,
        subject_type="export",
        subject_id=run.id,
        details={"format": run.fmt, "size": run.size},
    )
    return run


def describe(run: ExportRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "format": run.fmt,
        "status": run.status,
        "progress": round(run.progress, 3),
        "rows": run.rows,
        "size": run.size,
        "options": run.options,
        "error": run.error,
        "createdAt": run.created_at.isoformat(),
        "finishedAt": run.finished_at.isoformat() if run.finished_at else None,
        "expiresAt": run.expires_at.isoformat() if run.expires_at else None,
    }


def _progress(db: Database, run_id: int, **values: Any) -> None:
    with db.session_scope() as session:
        session.execute(sa.update(ExportRun).where(ExportRun.id == run_id).values(**values))
        session.commit()


def run(
    db: Database,
    store: BlobStore,
    session: Session,
    *,
    secret_key: str,
    ttl_hours: int,
    run_id: int,
    worker: str,
) -> None:
    """The ``exports.run`` job (module docstring). The worker passes the app's database, blob store and
    secret key: services take what they use, never the Flask app."""
    found = session.get(ExportRun, run_id)
    if found is None or found.status == "done":
        return
    creator = session.get(User, found.created_by_id) if found.created_by_id else None
    if creator is None:
        raise jobs.PermanentJobError("The person who asked for this export no longer exists.")
    fmt, options, project_id, form_id = found.fmt, dict(found.options), found.project_id, found.form_id
    creator_id = creator.id
    session.rollback()  # nothing held while the export reads (SQLite's write lock above all)
    _progress(db, run_id, status="running", progress=0.0, error=None)
    read = db.sessionmaker()
    try:
        project, form = read.get(Project, project_id), read.get(Form, form_id)
        user = read.get(User, creator_id)
        if project is None or form is None or user is None:
            raise jobs.PermanentJobError("The form of this export was deleted.")
        actor = Actor(user=user)
        actor.require(read, "submission.export", project)
        plain, share_class, asked = _share_options(options)
        export = exports.prepare(
            read,
            actor=actor,
            project=project,
            form=form,
            options=parse_options(plain),
            fmt=fmt,
            secret_key=secret_key,
            check=check_for(fmt),
            share_class=share_class,
        )
        # The rows as they are now: the risk check of a job runs on what the file will hold.
        try:
            risk = disclosure.guard(
                read, actor=actor, export=export, asked=asked, share_class=share_class, fmt=fmt
            )
        except RutaError as error:
            read.commit()
            raise jobs.PermanentJobError(error.message) from error
        if risk is not None and not risk.passes:
            read.commit()  # the refused check stays on record
            try:
                disclosure.enforce(risk)
            except RutaError as error:
                raise jobs.PermanentJobError(error.message) from error
        total = (
            read.scalar(
                sa.select(sa.func.count()).where(
                    Submission.form_id == form_id, export.rows, record_scope.visible()
                )
            )
            or 0
        )
        # The audit event of this read, and no lock held while pages are read (as the streamed
        # downloads do before their first byte): a retried run is audited again, as it reads again.
        read.commit()
        pages = 0

        def between_pages() -> None:
            nonlocal pages
            read.commit()
            pages += 1
            if total:
                _progress(db, run_id, progress=min(pages * exports.PAGE / total, 0.99))

        export.between_pages = between_pages
        rendered = render(read, export, fmt, store)
        stored, size = _store(rendered.chunks, store)
        filename, mimetype = rendered.filename, rendered.mimetype
    finally:
        read.rollback()
        read.close()
    now = utcnow()
    done = session.get(ExportRun, run_id, populate_existing=True)
    assert done is not None
    done.status, done.progress, done.error = "done", 1.0, None
    done.blob_sha256, done.size, done.filename, done.content_type = stored, size, filename, mimetype
    done.finished_at = now
    done.expires_at = now + dt.timedelta(hours=ttl_hours)
    session.flush()


def _store(chunks: Any, store: BlobStore) -> tuple[str, int]:
    with tempfile.TemporaryFile() as fh:
        for chunk in chunks:
            fh.write(chunk)
        fh.seek(0)
        blob = store.put_stream(fh)
    return blob.sha256, blob.size


def record_failure(session: Session, *, run_id: int, error: str, final: bool) -> None:
    found = session.get(ExportRun, run_id)
    if found is not None:
        found.error = error[:2000]
        found.status = "failed" if final else "queued"
        session.flush()


def purge_expired(session: Session, *, store: BlobStore, now: dt.datetime | None = None) -> int:
    """Expired files deleted (bytes too, unless another run made the very same file); runs kept as
    ``expired`` so their URL says 410 rather than 404."""
    now = now or utcnow()
    expired = session.scalars(
        sa.select(ExportRun).where(ExportRun.status == "done", ExportRun.expires_at < now)
    ).all()
    for item in expired:
        sha = item.blob_sha256
        item.status, item.blob_sha256 = "expired", None
        session.flush()
        if sha is None:
            continue
        if not session.scalar(
            sa.select(sa.func.count()).where(ExportRun.blob_sha256 == sha)
        ) and not session.get(Blob, sha):
            store.delete(sha)
    return len(expired)
