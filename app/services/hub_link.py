"""Hub side of a field hub: the link to the central Ruta, what is still to push (by a durable cursor),
and mirroring the central project's published forms, versions and media so local phones get them.

Network calls are made by ``sync.hub_client``; the CLI drives the loop and commits after every
acknowledged batch, so an interrupted sync resumes after the last batch the central side stored.
"""

from __future__ import annotations

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
from app.services import audit
from app.services import forms as form_service
from app.services.blobs import store_bytes
from sync.hub_client import OutgoingInstance

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


def pending_versions(session: Session, *, link: HubLink, limit: int, max_bytes: int) -> list[SV]:
    """The next versions after the cursor, in id order, up to ``limit`` and about ``max_bytes``."""
    rows = list(
        session.scalars(
            _project_versions(link).where(SV.id > link.version_cursor).order_by(SV.id).limit(limit)
        )
    )
    out: list[SV] = []
    size = 0
    for version in rows:
        size += len(version.xml) + sum(_blob_size(session, a) for a in version.attachments)
        if out and size > max_bytes:
            break
        out.append(version)
    return out


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


def count_pending(session: Session, *, link: HubLink) -> int:
    sub = _project_versions(link).where(SV.id > link.version_cursor).subquery()
    return int(session.scalar(select(func.count()).select_from(sub)) or 0)


def _blob_size(session: Session, attachment: SubmissionAttachment) -> int:
    if attachment.blob_sha256 is None:
        return 0
    blob = session.get(Blob, attachment.blob_sha256)
    return blob.size if blob else 0


def outgoing(version: SV, store: BlobStore) -> OutgoingInstance:
    files = [(a.name, store.read(a.blob_sha256)) for a in version.attachments if a.blob_sha256 is not None]
    meta = {k: v for k, v in {"deviceId": version.device_id, "userAgent": version.user_agent}.items() if v}
    return OutgoingInstance(key=f"v{version.id}", xml=version.xml, files=files, meta=meta)


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


def acknowledge(session: Session, *, link: HubLink, upto: int, pushed: int, answer: dict[str, Any]) -> None:
    """The central side stored a batch: move the cursor past it (the CLI commits right after)."""
    link.version_cursor = max(link.version_cursor, upto)
    link.last_push_count += pushed
    failed = [r for r in answer.get("results", []) if r["status"] in {"conflict", "error"}]
    if failed:
        # Refused items are permanent refusals (a conflict, an unknown form): kept visible, not retried.
        link.last_error = "; ".join(f"{r['instanceId']}: {r.get('message')}" for r in failed)[:4000]
    session.flush()


def finish(session: Session, *, link: HubLink, started: datetime, error: str | None) -> None:
    if error is None:
        link.files_since = started
        link.last_sync_at = utcnow()
    link.last_error = error or link.last_error
    session.flush()


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
            form_service.publish_draft(session, actor=None, form=form, version=None)
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
