"""Batch ingest: many submissions in one request, PROTOCOL.md's rules applied item by item, one answer
per item (created, edit, duplicate, conflict, error), and one commit by the caller.

Two paths with identical results:

- the *bulk* path, for plain new items (no deprecatedID, not encrypted, a known open form and version,
  an instanceID nothing stored mentions): the whole batch is classified with one query per form, then
  submissions, versions, attachments and audit events go in as multi-row INSERTs inside one savepoint;
- the *per-item* path, for everything else (edits, resends, conflicts, errors, and any bulk group that
  lost a race): ``submissions.ingest`` inside its own savepoint, so one bad item never sinks the batch.

Resending a batch is harmless: every item that was stored comes back as a duplicate, and files a
version still lacked are added. Files are fsynced by the blob store before the caller commits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import or_, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.blobs import BlobStore
from app.db import utcnow
from app.errors import RutaError, SubmissionConflictError
from app.models import (
    AuditEvent,
    Blob,
    Form,
    FormVersion,
    Project,
    Submission,
    SubmissionAttachment,
    SubmissionVersion,
)
from app.services import jobs, tombstones
from app.services.entities import from_submissions as entity_submissions
from app.services.protection import row_access
from app.services.response import activities
from app.services.submissions import bulk_insert
from app.services.submissions import intake as submission_service
from app.services.submissions.intake import IncomingFile, NewVersion, Origin
from sync.batch import HELD_XML, BatchItem
from sync.submission import ParsedSubmission, is_safe_file_name


@dataclass
class ItemResult:
    key: str
    status: str  # created | edit | duplicate | conflict | error
    http_status: int
    instance_id: str | None = None
    code: str | None = None
    message: str | None = None
    files_added: list[str] = field(default_factory=list)
    missing_files: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key, "status": self.status, "httpStatus": self.http_status}
        out["instanceId"] = self.instance_id
        if self.code is not None:
            out |= {"code": self.code, "message": self.message}
        out |= {"filesAdded": self.files_added, "missingFiles": self.missing_files}
        return out


@dataclass
class _Work:
    index: int
    item: BatchItem
    parsed: ParsedSubmission
    origin: Origin
    form: Form | None = None
    version: FormVersion | None = None


def _error(key: str, err: RutaError, instance_id: str | None = None) -> ItemResult:
    status = "conflict" if isinstance(err, SubmissionConflictError) else "error"
    return ItemResult(key, status, err.status, instance_id, err.code, err.message)


def _origin_for(item: BatchItem, origin: Origin) -> Origin:
    """The item's own deviceId and userAgent (batch.json, or what a hub forwards) under the length
    policy: a deviceId too long to store makes this item a 400, not the whole batch a 500."""
    meta = item.meta
    device, agent = meta.get("deviceId"), meta.get("userAgent")
    mine = submission_service.origin(
        str(device) if device else origin.device_id,
        str(agent) if agent else origin.user_agent,
        origin.hub_id,
    )
    return replace(origin, device_id=mine.device_id, user_agent=mine.user_agent)


def ingest_batch(
    session: Session,
    *,
    actor: Actor,
    project: Project,
    items: list[BatchItem],
    store: BlobStore,
    origin: Origin,
) -> list[ItemResult]:
    """Ingest every item; flushes only. Results are in item order."""
    actor.require(session, "submission.create", project)
    results: dict[int, ItemResult] = {}
    work: list[_Work] = []
    _fill_held_xml(session, project=project, items=items)
    for index, item in enumerate(items):
        if item.error is not None or item.xml is None:
            results[index] = ItemResult(item.key, "error", 400, None, "400.20", item.error)
            continue
        try:
            parsed = submission_service.parse(item.xml)
            item_origin = _origin_for(item, origin)
        except RutaError as err:
            results[index] = _error(item.key, err)
            continue
        work.append(_Work(index, item, parsed, item_origin))
    bulk_insert.refresh_planner_statistics(session, [_table(Submission), _table(SubmissionVersion)])
    bulk, single, existing = _classify(session, actor=actor, project=project, work=work)
    if bulk:
        try:
            with session.begin_nested():
                results.update(_bulk_insert(session, actor=actor, project=project, work=bulk, store=store))
        except IntegrityError:
            # Another request stored one of these instanceIDs meanwhile: take each through the full rules
            # (which tell the one that raced, a duplicate, from the rest, created).
            single = sorted(single + bulk, key=lambda w: w.index)
        else:
            # A repeat of one of these later in the batch is a duplicate.
            existing |= {w.parsed.instance_id for w in bulk}
    for w in single:
        results[w.index] = _ingest_one(
            session, actor=actor, project=project, w=w, store=store, existing=existing
        )
    if work:
        jobs.after_submission_change(session, project.id)
    return [results[i] for i in range(len(items))]


def _fill_held_xml(session: Session, *, project: Project, items: list[BatchItem]) -> None:
    """Give an item that names an XML this project already holds (files sent without their XML, see
    ``sync.batch.HELD_XML``) that XML, so it is ingested as the duplicate it is and only its files are
    added. The sender must name the XML's sha256: it proves it has the XML, so it can do no more than
    by sending it. An XML not held here, or held with other bytes, answers the item with an error (the
    sender then sends the XML with its files)."""
    for item in items:
        held = item.meta.get(HELD_XML) if item.xml is None and item.error is None else None
        if held is None:
            continue
        names = [held.get(k) for k in ("instanceId", "sha256")] if isinstance(held, dict) else []
        xml = None
        if len(names) == 2 and all(isinstance(n, str) and 0 < len(n) <= 255 for n in names):
            instance_id, sha = cast(list[str], names)
            xml = next(
                (
                    x
                    for x in session.scalars(
                        select(SubmissionVersion.xml)
                        .join(Form, Form.id == SubmissionVersion.form_id)
                        .where(Form.project_id == project.id, SubmissionVersion.instance_id == instance_id)
                    )
                    if hashlib.sha256(x).hexdigest() == sha
                ),
                None,
            )
        if xml is None:
            item.error = (
                f"The folder {item.key!r} names an instance XML that is not held here (or not with "
                "those bytes); send the XML with its files."
            )
        else:
            item.xml = xml


def _classify(
    session: Session, *, actor: Actor, project: Project, work: list[_Work]
) -> tuple[list[_Work], list[_Work], set[str]]:
    """Split into bulk-safe plain new items and the rest; also return the instanceIDs already stored."""
    form_ids = {w.parsed.form_id for w in work}
    forms = {
        f.xml_form_id: f
        for f in session.scalars(
            select(Form).where(Form.project_id == project.id, Form.xml_form_id.in_(form_ids))
        )
    }
    versions: dict[int, dict[str, FormVersion]] = {}
    for f in forms.values():
        versions[f.id] = {
            v.version: v
            for v in session.scalars(
                select(FormVersion).where(FormVersion.form_id == f.id, FormVersion.published_at.is_not(None))
            )
        }
    existing: set[str] = set()
    mentioned: dict[int, set[str]] = {}
    by_form: dict[int, list[str]] = {}
    for w in work:
        w.form = forms.get(w.parsed.form_id)
        if w.form is not None:
            by_form.setdefault(w.form.id, []).append(w.parsed.instance_id)
    for form_id, ids in by_form.items():
        mentioned[form_id] = _mentioned(session, form_id, ids, existing)
        # A purged record resent takes the one-by-one path, which stores nothing and says so.
        mentioned[form_id] |= tombstones.purged_among(session, form_id, ids)
    bulk: list[_Work] = []
    single: list[_Work] = []
    seen: set[tuple[str, str]] = set()
    may_bulk = actor.app_user is None  # device limits on forms are checked by the full rules
    for w in work:
        p, form = w.parsed, w.form
        key = (p.form_id, p.instance_id)
        w.version = versions.get(form.id, {}).get(p.version or "") if form is not None else None
        plain = (
            may_bulk
            and form is not None
            and form.current_version_id is not None
            and form.state != "closed"
            and w.version is not None
            and p.deprecated_id is None
            and p.envelope is None
            and key not in seen
            and p.instance_id not in mentioned.get(form.id, set())
            and all(is_safe_file_name(f.name) for f in w.item.files)
        )
        seen.add(key)
        (bulk if plain else single).append(w)
    return bulk, single, existing


def _mentioned(session: Session, form_id: int, ids: list[str], existing: set[str]) -> set[str]:
    """instanceIDs of ``ids`` that anything stored for the form names: a version, an edit's
    deprecatedID, or a chain root. One query; ``existing`` gets the ones stored as versions."""
    SV = SubmissionVersion
    is_in = _is_in(session, ids)
    rows = session.execute(
        select(SV.instance_id, SV.deprecated_id).where(
            SV.form_id == form_id, or_(is_in(SV.instance_id), is_in(SV.deprecated_id))
        )
    ).all()
    roots = set(
        session.scalars(
            select(Submission.instance_id).where(Submission.form_id == form_id, is_in(Submission.instance_id))
        )
    )
    existing.update(iid for iid, _ in rows)
    return {iid for iid, _ in rows} | {dep for _, dep in rows if dep} | roots


def _is_in(session: Session, ids: list[str]) -> Any:
    """``column IN ids``; on PostgreSQL as ``= ANY(array)``, one parameter instead of one per id
    (500 placeholders cost more to render and convert than the index probes they feed)."""
    if session.get_bind().dialect.name != "postgresql":
        return lambda column: column.in_(ids)
    array = sa.bindparam(None, ids, type_=postgresql.ARRAY(sa.String), unique=True)
    return lambda column: column == sa.any_(array)


def _bulk_insert(
    session: Session, *, actor: Actor, project: Project, work: list[_Work], store: BlobStore
) -> dict[int, ItemResult]:
    now = utcnow()
    built: list[submission_service.NewRows] = []
    blob_rows: dict[str, dict[str, Any]] = {}
    results: dict[int, ItemResult] = {}
    # Every file of the bulk items is written first and made durable together (before the commit).
    contents = {(w.index, n): f.read() for w in work for n, f in enumerate(w.item.files)}
    keys = list(contents)
    blobs = dict(zip(keys, store.put_many([contents[k] for k in keys]), strict=True))
    organisation_id = row_access.collecting_organisation(session, actor=actor, project=project)

    def stored_file(w: _Work) -> Callable[[int], str]:
        def store_file(n: int) -> str:
            stored = blobs[(w.index, n)]
            blob_rows.setdefault(stored.sha256, _blob_row(stored, w.item.files[n].content_type, now))
            return stored.sha256

        return store_file

    for w in work:
        assert w.form is not None and w.version is not None and w.item.xml is not None
        new = NewVersion(
            form=w.form,
            version_id=w.version.id,
            version_sha256=w.version.sha256,
            version_label=w.version.version,
            parsed=w.parsed,
            xml=w.item.xml,
            sha=hashlib.sha256(w.item.xml).hexdigest(),
            extracted=submission_service.extract(session, w.version.id, w.version.sha256, w.parsed),
            origin=w.origin,
            received_at=now,
            organisation_id=organisation_id,
        )
        rows = submission_service.new_rows(
            actor=actor, new=new, names=[f.name for f in w.item.files], store_file=stored_file(w)
        )
        built.append(rows)
        results[w.index] = ItemResult(
            w.item.key, "created", 201, w.parsed.instance_id, None, None, rows.added, rows.missing
        )
    submission_service.flag_rows(session, project=project, actor=actor, rows=built)
    if blob_rows:
        _insert_blobs(session, list(blob_rows.values()))
    ver_ids = bulk_insert.insert_submissions_with_versions(
        session, [r.record for r in built], [r.version for r in built]
    )
    flat = [
        row | {"submission_version_id": vid}
        for rows, vid in zip(built, ver_ids, strict=True)
        for row in rows.attachments
    ]
    if flat:
        bulk_insert.copy_rows(session, _table(SubmissionAttachment), flat)
    bulk_insert.copy_rows(session, _table(AuditEvent), [r.event for r in built])
    _apply_entities(session, actor=actor, project=project, work=work, ver_ids=ver_ids)
    for rows in built:
        if rows.new.form.xml_form_id == activities.ACTIVITY_FORM_ID:
            # The bundled 5W form: each new record is also a row of the activity reports, as in ingest.
            activities.import_submission(
                session,
                actor=actor,
                project=project,
                values=rows.new.extracted.values,
                instance_id=rows.new.parsed.instance_id,
            )
    return results


def _apply_entities(
    session: Session, *, actor: Actor, project: Project, work: list[_Work], ver_ids: list[int]
) -> None:
    """The entity blocks of the new records, in batch order (as if each had been sent alone)."""
    with_entities = [
        (w, vid)
        for w, vid in zip(work, ver_ids, strict=True)
        if w.version is not None
        and entity_submissions.form_entities(session, w.version.id, w.version.sha256) is not None
    ]
    if not with_entities:
        return
    ids = [vid for _w, vid in with_entities]
    rows = session.execute(
        select(SubmissionVersion.id, SubmissionVersion.submission_id).where(SubmissionVersion.id.in_(ids))
    )
    record_of = {vid: sid for vid, sid in rows}
    stored = []
    for w, vid in with_entities:
        assert w.version is not None
        stored.append(
            entity_submissions.StoredVersion(
                w.version.id, w.version.sha256, w.parsed.root, record_of[vid], vid
            )
        )
    entity_submissions.apply_many(session, actor=actor, project_id=project.id, stored=stored)


def _table(model: Any) -> sa.Table:
    return cast(sa.Table, model.__table__)


def _blob_row(stored: Any, content_type: str | None, now: Any) -> dict[str, Any]:
    return {
        "sha256": stored.sha256,
        "md5": stored.md5,
        "size": stored.size,
        "content_type": (content_type or "application/octet-stream")[:255],
        "created_at": now,
    }


def _insert_blobs(session: Session, rows: list[dict[str, Any]]) -> None:
    from sqlalchemy.dialects import sqlite

    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(Blob).values(rows).on_conflict_do_nothing(index_elements=["sha256"]))


def _ingest_one(
    session: Session, *, actor: Actor, project: Project, w: _Work, store: BlobStore, existing: set[str]
) -> ItemResult:
    key, iid = w.item.key, w.parsed.instance_id
    assert w.item.xml is not None
    files = [IncomingFile(f.name, f.read(), f.content_type) for f in w.item.files]
    for attempt in (1, 2):
        try:
            with session.begin_nested():
                result = submission_service.ingest(
                    session,
                    actor=actor,
                    project=project,
                    xml=w.item.xml,
                    files=files,
                    store=store,
                    origin=w.origin,
                    parsed=w.parsed,
                )
        except IntegrityError:
            if attempt == 2:
                raise
            existing.add(iid)  # a racing copy won: the second attempt takes the idempotent path
            continue
        except RutaError as err:
            return _error(key, err, iid)
        break
    # 202: nothing was new — also for an instanceID a racing request stored after classification.
    was_stored = iid in existing or result.status == 202
    existing.add(iid)
    status = "duplicate" if was_stored else ("edit" if w.parsed.deprecated_id else "created")
    return ItemResult(key, status, result.status, iid, None, None, result.added_files, result.missing_files)
