"""Central side of field hubs: issue a credential for one project (shown once, stored hashed), revoke
it, recognise it on every batch and pull, list hubs with what they sent, and describe the project's
published forms to a hub (and nothing outside that project)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from app.auth import tokens
from app.auth.actor import Actor
from app.auth.hub_actor import HubActor
from app.db import utcnow
from app.errors import HubTokenError, InvalidValueError, NotFoundError
from app.models import Blob, Form, FormAttachment, FormVersion, Hub, Project, Submission, SubmissionVersion
from app.services.audit import events as audit
from app.services.protection import classification, row_access


@dataclass(frozen=True)
class IssuedHub:
    hub: Hub
    token: str  # shown once; only its hash is stored


@dataclass(frozen=True)
class HubSummary:
    hub: Hub
    submissions: int
    last_submission_at: datetime | None


def issue_hub(
    session: Session, *, actor: Actor, project: Project, name: str, share_class: str | None = None
) -> IssuedHub:
    """``share_class``: the class the hub will hold the project's submissions at; refused when below
    the class of the project's microdata (``403.60``)."""
    classification.check_project_share(session, project.id, share_class, what="project's microdata")
    name = (name or "").strip()
    if not name:
        raise InvalidValueError("A hub needs a name (e.g. the field office: 'Rumichaca office').")
    token = tokens.new_token()
    hub = Hub(project_id=project.id, name=name[:255], token_hash=tokens.token_hash(token))
    hub.created_by_id = actor.user_id
    hub.organisation_id = row_access.credential_organisation(session, actor=actor, project=project)
    session.add(hub)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="hub.create",
        project_id=project.id,
        subject_type="hub",
        subject_id=hub.id,
        details={"name": hub.name, "shareClass": share_class},
    )
    return IssuedHub(hub, token)


def get_hub(session: Session, *, project: Project, hub_id: int) -> Hub:
    hub = session.get(Hub, hub_id)
    if hub is None or hub.project_id != project.id:
        raise NotFoundError(f"No hub {hub_id} in this project.")
    return hub


def revoke_hub(session: Session, *, actor: Actor, hub: Hub) -> Hub:
    if hub.revoked_at is None:
        hub.revoked_at = utcnow()
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="hub.revoke",
            project_id=hub.project_id,
            subject_type="hub",
            subject_id=hub.id,
        )
    return hub


def list_hubs(session: Session, *, project: Project, rows: ColumnElement[bool]) -> list[HubSummary]:
    """The project's hubs with what each sent, counted over ``rows`` (the reader's row filter)."""
    counts = dict(
        (hub_id, (n, last))
        for hub_id, n, last in session.execute(
            select(SubmissionVersion.hub_id, func.count(), func.max(SubmissionVersion.received_at))
            .join(Hub, Hub.id == SubmissionVersion.hub_id)
            .join(Submission, Submission.id == SubmissionVersion.submission_id)
            .where(Hub.project_id == project.id, rows)
            .group_by(SubmissionVersion.hub_id)
        )
    )
    hubs = session.scalars(select(Hub).where(Hub.project_id == project.id).order_by(Hub.id))
    return [HubSummary(h, *counts.get(h.id, (0, None))) for h in hubs]


def hub_actor_for_token(session: Session, token: str) -> HubActor:
    """The hub holding ``token``; a revoked or unknown credential is refused with 401."""
    hub = session.scalar(select(Hub).where(Hub.token_hash == tokens.token_hash(token)))
    if hub is None or hub.revoked_at is not None:
        raise HubTokenError()
    return HubActor(hub=hub)


def record_batch(session: Session, *, actor: HubActor, counts: dict[str, int]) -> None:
    hub = actor.hub
    assert hub is not None
    hub.last_sync_at = utcnow()
    hub.batches_received += 1
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="hub.batch",
        project_id=hub.project_id,
        subject_type="hub",
        subject_id=hub.id,
        details=counts,
    )


def form_catalogue(session: Session, *, project: Project) -> list[dict[str, Any]]:
    """Every form of the project with a published version: its state and all published versions
    (oldest first, phones may still fill old ones) with their media, by sha256."""
    forms = session.scalars(
        select(Form)
        .where(Form.project_id == project.id, Form.current_version_id.is_not(None))
        .order_by(Form.xml_form_id)
    )
    out = []
    for form in forms:
        versions = session.scalars(
            select(FormVersion)
            .where(FormVersion.form_id == form.id, FormVersion.published_at.is_not(None))
            .order_by(FormVersion.published_at, FormVersion.id)
        )
        out.append(
            {
                "xmlFormId": form.xml_form_id,
                "name": form.name,
                "state": form.state,
                "versions": [
                    {
                        "version": v.version,
                        "sha256": v.sha256,
                        "md5": v.md5,
                        "current": v.id == form.current_version_id,
                        "attachments": [
                            {"name": a.name, "sha256": a.blob_sha256} for a in v.attachments if a.blob_sha256
                        ],
                    }
                    for v in versions
                ],
            }
        )
    return out


def form_version_xml(session: Session, *, project: Project, xml_form_id: str, sha256: str) -> bytes:
    xml = session.scalar(
        select(FormVersion.xml)
        .join(Form, Form.id == FormVersion.form_id)
        .where(
            Form.project_id == project.id,
            Form.xml_form_id == xml_form_id,
            FormVersion.sha256 == sha256,
            FormVersion.published_at.is_not(None),
        )
    )
    if xml is None:
        raise NotFoundError(f"No published version {sha256} of form {xml_form_id!r} in this project.")
    return xml


def form_media_blob(session: Session, *, project: Project, sha256: str) -> Blob:
    """A blob, only when a published form version of this project uses it as media: a hub credential
    never reads anything else from the blob store (submission files, other projects)."""
    used = session.scalar(
        select(FormAttachment.id)
        .join(FormVersion, FormVersion.id == FormAttachment.form_version_id)
        .join(Form, Form.id == FormVersion.form_id)
        .where(
            Form.project_id == project.id,
            FormAttachment.blob_sha256 == sha256,
            FormVersion.published_at.is_not(None),
        )
        .limit(1)
    )
    blob = session.get(Blob, sha256) if used is not None else None
    if blob is None:
        raise NotFoundError("No such form media in this project.")
    return blob
