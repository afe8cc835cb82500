"""Hub side of a field hub: the link to the central Ruta, what is still to push (by a durable cursor),
and mirroring the central project's published forms, versions and media so local phones get them.

Network calls are made by ``sync.hub_client``; ``app.hub_sync`` drives the loop, in short
transactions that never span network I/O (on SQLite every transaction holds the write lock, and phones
at the hub must keep submitting during a sync), and commits after every acknowledged batch, so an
interrupted sync resumes after the last batch the central side stored.

A sync sends the XML of every pending version first (``pending_versions``, cursor ``version_cursor``),
then their files (``pending_files``, cursor ``files_cursor``): on a slow link the data arrives first.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.blobs import BlobStore
from app.db import utcnow
from app.errors import HubNotLinkedError, InvalidValueError
from app.models import Blob, Form, FormAttachment, FormVersion, HubLink, Project, SubmissionAttachment
from app.models import SubmissionVersion as SV
from app.services.audit import events as audit
from app.services.blobs import store_bytes
from app.services.publishing import versions as form_service
from sync.batch import HELD_XML
from sync.hub_client import OutgoingInstance

CENTRAL_PUBLISHED = "Published on the central server; the hub copies its versions as they are."
LATE_FILE = timedelta(seconds=1)  # files stored with their XML are written within the same request


def link_project(
    session: Session,
    *,
    project: Project,
    central_url: str,
    central_project_id: int,
    token: str,
    central_hub_id: int | None,
) -> HubLink:
    if not re.match(r"^https?://", central_url):
        raise InvalidValueError("The central URL must start with http:// or https://.")
    link = session.scalar(select(HubLink).where(HubLink.project_id == project.id))
    if link is None:
        link = HubLink(project_id=project.id, version_cursor=0, last_push_count=0)
        session.add(link)
    link.central_url = central_url.rstrip("/")
    link.central_project_id = central_project_id
    link.central_hub_id = central_hub_id
    link.token = token
    session.flush()
    audit.record(
        session,
        actor=None,
        action="hub.link",
        project_id=project.id,
        subject_type="hub_link",
        subject_id=link.id,
        details={"central": link.central_url, "centralProject": central_project_id, "hub": central_hub_id},
    )
    return link


def get_link(session: Session, *, project_id: int | None = None) -> HubLink:
    query = select(HubLink).order_by(HubLink.id)
    if project_id is not None:
        query = query.where(HubLink.project_id == project_id)
    link = session.scalars(query).first()
    if link is None:
        raise HubNotLinkedError()
    return link


def _project_versions(link: HubLink) -> Any:
    return select(SV).join(Form, Form.id == SV.form_id).where(Form.project_id == link.project_id)


def latest_version(session: Session, *, link: HubLink) -> int:
    """The newest version id now: a sync pushes up to it, and what phones send meanwhile waits for the
    next pass (else a busy office could keep a sync going forever)."""
    sub = _project_versions(link).subquery()
    return int(session.scalar(select(func.max(sub.c.id))) or 0)


def pending_versions(
    session: Session,
    *,
    link: HubLink,
    limit: int,
    max_bytes: int,
    with_files: bool = True,
    upto: int | None = None,
) -> list[SV]:
    """The next versions after the cursor (up to id ``upto``), in id order, at most ``limit`` and about
    ``max_bytes`` (of XML, and of files unless ``with_files`` is false: files may follow later)."""
    query = _project_versions(link).where(SV.id > link.version_cursor)
    if upto is not None:
        query = query.where(SV.id <= upto)
    rows = list(session.scalars(query.order_by(SV.id).limit(limit)))
    out: list[SV] = []
    size = 0
    for version in rows:
        size += len(version.xml)
        size += sum(_blob_size(session, a) for a in version.attachments) if with_files else 0
        if out and size > max_bytes:
            break
        out.append(version)
    return out


def pending_files(session: Session, *, link: HubLink, limit: int, max_bytes: int) -> tuple[list[SV], int]:
    """Versions whose XML went up and whose files did not yet (after ``files_cursor``), about
    ``max_bytes`` of files; with the id the files cursor may move to once they are acknowledged."""
    sizes = session.execute(
        select(SV.id, func.sum(Blob.size))
        .join(Form, Form.id == SV.form_id)
        .join(SubmissionAttachment, SubmissionAttachment.submission_version_id == SV.id)
        .join(Blob, Blob.sha256 == SubmissionAttachment.blob_sha256)
        .where(
            Form.project_id == link.project_id,
            SV.id > link.files_cursor,
            SV.id <= link.version_cursor,
        )
        .group_by(SV.id)
        .order_by(SV.id)
        .limit(limit)
    ).all()
    chosen: list[int] = []
    size = 0
    for vid, nbytes in sizes:
        size += int(nbytes or 0)
        if chosen and size > max_bytes:
            return _by_ids(session, chosen), chosen[-1]
        chosen.append(vid)
    if len(sizes) == limit:
        return _by_ids(session, chosen), chosen[-1]
    return _by_ids(session, chosen), link.version_cursor  # nothing else up to the cursor has files


def _by_ids(session: Session, ids: list[int]) -> list[SV]:
    return list(session.scalars(select(SV).where(SV.id.in_(ids)).order_by(SV.id))) if ids else []


@dataclass(frozen=True)
class Backlog:
    items: int  # versions whose XML is still to go
    xml_bytes: int
    files: int  # files still to go (of versions pushed or not)
    file_bytes: int


def backlog(session: Session, *, link: HubLink) -> Backlog:
    """What is still to send, for progress, ``ruta hub status`` and the admin page."""
    xml_count, xml_bytes = session.execute(
        select(func.count(), func.coalesce(func.sum(func.length(SV.xml)), 0))
        .select_from(SV)
        .join(Form, Form.id == SV.form_id)
        .where(Form.project_id == link.project_id, SV.id > link.version_cursor)
    ).one()
    file_count, file_bytes = session.execute(
        select(func.count(), func.coalesce(func.sum(Blob.size), 0))
        .select_from(SV)
        .join(Form, Form.id == SV.form_id)
        .join(SubmissionAttachment, SubmissionAttachment.submission_version_id == SV.id)
        .join(Blob, Blob.sha256 == SubmissionAttachment.blob_sha256)
        .where(Form.project_id == link.project_id, SV.id > link.files_cursor)
    ).one()
    return Backlog(int(xml_count), int(xml_bytes or 0), int(file_count), int(file_bytes or 0))


def refreshed_versions(session: Session, *, link: HubLink, upto: int) -> list[SV]:
    """Versions already pushed that received files after the last complete sync started (Collect
    sends big submissions in several POSTs): pushed again, the central side adds only those files."""
    if link.files_since is None:
        return []
    candidates = session.execute(
        select(SV.id, SV.received_at, SubmissionAttachment.received_at)
        .join(SubmissionAttachment, SubmissionAttachment.submission_version_id == SV.id)
        .join(Form, Form.id == SV.form_id)
        .where(
            Form.project_id == link.project_id,
            SV.id <= upto,
            SubmissionAttachment.received_at >= link.files_since,
        )
    ).all()
    # Only files that came in a later request than their XML (a split); the rest went up with it.
    late = sorted(
        {vid for vid, got_xml, got_file in candidates if got_file and got_file - got_xml > LATE_FILE}
    )
    return list(session.scalars(select(SV).where(SV.id.in_(late)).order_by(SV.id))) if late else []


def _blob_size(session: Session, attachment: SubmissionAttachment) -> int:
    if attachment.blob_sha256 is None:
        return 0
    blob = session.get(Blob, attachment.blob_sha256)
    return blob.size if blob else 0


ENCRYPTED_DATA = "submission.xml.enc"  # an encrypted submission's data travels with its XML envelope


@dataclass(frozen=True)
class Pending:
    """One version to send, read inside a transaction; its files are read from the blob store after
    the transaction ends (``outgoing``)."""

    id: int
    xml: bytes
    files: list[tuple[str, str]]  # (name, blob sha256)
    meta: dict[str, Any]
    instance_id: str = ""


def pending(version: SV, *, with_files: bool = True) -> Pending:
    files = [
        (a.name, a.blob_sha256)
        for a in version.attachments
        if a.blob_sha256 is not None and (with_files or a.name == ENCRYPTED_DATA)
    ]
    meta = {k: v for k, v in {"deviceId": version.device_id, "userAgent": version.user_agent}.items() if v}
    return Pending(version.id, version.xml, files, meta, version.instance_id)


def outgoing(version: SV | Pending, store: BlobStore) -> OutgoingInstance:
    p = version if isinstance(version, Pending) else pending(version)
    files = [(name, store.read(sha)) for name, sha in p.files]
    return OutgoingInstance(key=f"v{p.id}", xml=p.xml, files=files, meta=p.meta)


def outgoing_files(p: Pending, store: BlobStore) -> OutgoingInstance:
    """The files of a version whose XML the central side already acknowledged, without the XML: the
    batch names it by instanceID and sha256 (``sync.batch.HELD_XML``), which saves resending ~1 KB of
    compressed XML with every photo."""
    held = {HELD_XML: {"instanceId": p.instance_id, "sha256": hashlib.sha256(p.xml).hexdigest()}}
    files = [(name, store.read(sha)) for name, sha in p.files]
    return OutgoingInstance(key=f"v{p.id}", xml=b"", files=files, meta=p.meta | held)


@dataclass
class PushTally:
    batches: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)

    def add(self, answer: dict[str, Any]) -> None:
        self.batches += 1
        for result in answer.get("results", []):
            self.counts[result["status"]] = self.counts.get(result["status"], 0) + 1
            if result["status"] in {"conflict", "error"}:
                self.failures.append(result)


def acknowledge(
    session: Session,
    *,
    link: HubLink,
    upto: int,
    pushed: int,
    answer: dict[str, Any],
    files_upto: int | None = None,
    rate: float | None = None,
) -> None:
    """The central side stored a batch: move the cursor past it (the caller commits right after).
    ``files_upto`` moves the files cursor instead (a batch of files for versions already pushed)."""
    if files_upto is not None:
        link.files_cursor = max(link.files_cursor, files_upto)
    else:
        link.version_cursor = max(link.version_cursor, upto)
        link.last_push_count += pushed
    if rate:
        link.link_rate = rate
    link.sync_seen_at = utcnow()
    failed = [r for r in answer.get("results", []) if r["status"] in {"conflict", "error"}]
    if failed:
        # Refused items are permanent refusals (a conflict, an unknown form): kept visible, not retried.
        link.last_error = "; ".join(f"{r['instanceId']}: {r.get('message')}" for r in failed)[:4000]
    session.flush()


def begin(session: Session, *, link: HubLink) -> None:
    link.last_error = None  # this run's refusals or failure replace the last run's
    link.sync_started_at = link.sync_seen_at = utcnow()
    session.flush()


def finish(
    session: Session, *, link: HubLink, started: datetime, error: str | None, sent_bytes: int | None = None
) -> None:
    if error is None:
        link.files_since = started
        link.last_sync_at = utcnow()
        link.last_sync_bytes = sent_bytes
        link.last_sync_seconds = (link.last_sync_at - started).total_seconds()
    link.last_error = error or link.last_error
    link.sync_started_at = None
    session.flush()


SYNC_STALE = timedelta(minutes=30)  # no batch acknowledged for this long: the sync died or waits offline


@dataclass(frozen=True)
class LinkStatus:
    link: HubLink
    backlog: Backlog
    running: bool


def link_status(session: Session, *, project_id: int) -> LinkStatus | None:
    """For the admin's hubs page of a project this Ruta pushes as a hub; None when it is not linked."""
    link = session.scalar(select(HubLink).where(HubLink.project_id == project_id))
    if link is None:
        return None
    return LinkStatus(link, backlog(session, link=link), sync_running(link))


def sync_running(link: HubLink) -> bool:
    return (
        link.sync_started_at is not None
        and link.sync_seen_at is not None
        and utcnow() - link.sync_seen_at < SYNC_STALE
    )


def missing_downloads(
    session: Session, *, project: Project, catalogue: list[dict[str, Any]], store: BlobStore
) -> tuple[set[tuple[str, str]], set[str]]:
    """What ``mirror_forms`` will fetch: (form id, version sha256) pairs and media sha256s. The caller
    downloads them outside any transaction, then mirrors from what it downloaded."""
    xml: set[tuple[str, str]] = set()
    media: set[str] = set()
    for entry in catalogue:
        have = set(
            session.scalars(
                select(FormVersion.sha256)
                .join(Form, Form.id == FormVersion.form_id)
                .where(
                    Form.project_id == project.id,
                    Form.xml_form_id == entry["xmlFormId"],
                    FormVersion.published_at.is_not(None),
                )
            )
        )
        for version in entry["versions"]:
            if version["sha256"] in have:
                continue
            xml.add((entry["xmlFormId"], version["sha256"]))
            for m in version["attachments"]:
                if session.get(Blob, m["sha256"]) is None or not store.exists(m["sha256"]):
                    media.add(m["sha256"])
    return xml, media


@dataclass
class PullReport:
    forms_created: list[str] = field(default_factory=list)
    versions_added: list[str] = field(default_factory=list)
    media_fetched: int = 0


def mirror_forms(
    session: Session,
    *,
    project: Project,
    catalogue: list[dict[str, Any]],
    fetch_xml: Callable[[str, str], bytes],
    fetch_media: Callable[[str], bytes],
    store: BlobStore,
) -> PullReport:
    """Make the hub's project serve what the central project publishes: same bytes (so md5 hashes on
    phones match), every published version (old ones are still filled in), media, current pointer, state."""
    report = PullReport()
    for entry in catalogue:
        form_id = entry["xmlFormId"]
        form = session.scalar(select(Form).where(Form.project_id == project.id, Form.xml_form_id == form_id))
        have = set()
        if form is not None:
            have = set(
                session.scalars(
                    select(FormVersion.sha256).where(
                        FormVersion.form_id == form.id, FormVersion.published_at.is_not(None)
                    )
                )
            )
        for version in entry["versions"]:
            if version["sha256"] in have:
                continue
            xml = fetch_xml(form_id, version["sha256"])
            if form is None:
                form = form_service.create_form(
                    session, actor=None, project=project, data=xml, store=store, publish=False,
                    ignore_warnings=True, run_validate=False,
                ).form  # fmt: skip
                report.forms_created.append(form_id)
            else:
                form_service.create_draft(
                    session, actor=None, form=form, project=project, data=xml, store=store,
                    ignore_warnings=True, run_validate=False,
                )  # fmt: skip
            draft = form.draft_version
            assert draft is not None
            report.media_fetched += _attach_media(session, draft, version["attachments"], fetch_media, store)
            # The central server already decided to publish this version (with a reason if it had to).
            form_service.publish_draft(
                session, actor=None, form=form, version=None, override_reason=CENTRAL_PUBLISHED
            )
            report.versions_added.append(f"{form_id}@{version['version']}")
        if form is None:
            continue
        current = next((v for v in entry["versions"] if v["current"]), None)
        if current is not None and (
            form.current_version is None or form.current_version.sha256 != current["sha256"]
        ):
            form.current_version = session.scalar(
                select(FormVersion).where(
                    FormVersion.form_id == form.id, FormVersion.sha256 == current["sha256"]
                )
            )
        if form.state != entry["state"]:
            form_service.set_state(session, actor=Actor(), form=form, state=entry["state"])
    session.flush()
    return report


def _attach_media(
    session: Session,
    draft: FormVersion,
    attachments: list[dict[str, Any]],
    fetch_media: Callable[[str], bytes],
    store: BlobStore,
) -> int:
    fetched = 0
    by_name = {a.name: a for a in draft.attachments}
    for media in attachments:
        sha = media["sha256"]
        if session.get(Blob, sha) is None or not store.exists(sha):
            stored = store_bytes(session, store, fetch_media(sha))
            if stored.sha256 != sha:
                raise InvalidValueError(f"Form media {media['name']!r} arrived damaged (sha256 differs).")
            fetched += 1
        row = by_name.get(media["name"])
        if row is None:
            row = FormAttachment(name=media["name"], kind="file")
            draft.attachments.append(row)
        row.blob_sha256, row.updated_at = sha, utcnow()
    session.flush()
    return fetched
