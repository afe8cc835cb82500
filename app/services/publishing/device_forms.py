"""What a device reads about forms: the formList and a form's manifest, each in one query.

Collect asks for the formList on every "Get blank form" and every update check, so its cost must not
grow with the number of forms: one query reads every listed form with its published version's md5,
version string and whether it has media, selecting only those columns (a version's XForm bytes and
schema are large and the list needs neither).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from app.models import AppUser, Blob, Form, FormAttachment, FormVersion
from app.services import entities as entity_lists
from app.services.accounts.app_users import forms_usable_by
from app.services.entities import serve as entity_serve


@dataclass(frozen=True)
class ListedForm:
    xml_form_id: str
    name: str
    version: str
    md5: str
    has_media: bool


@dataclass(frozen=True)
class MediaFile:
    name: str
    md5: str
    # The project's entity list this file serves (``<list>.csv``), else None (an uploaded file).
    dataset: str | None = None


def fillable_forms(
    session: Session, *, project_id: int, app_user: AppUser | None, xml_form_id: str | None = None
) -> list[ListedForm]:
    """Open forms of the project with a published version that the caller may fill in (a device token
    only its own forms; people the policy already let through see them all), by xmlFormId."""
    has_media = exists().where(FormAttachment.form_version_id == FormVersion.id)
    query = (
        select(Form.xml_form_id, Form.name, FormVersion.version, FormVersion.md5, has_media)
        .join(FormVersion, FormVersion.id == Form.current_version_id)
        .where(Form.project_id == project_id, Form.state == "open")
        .order_by(Form.xml_form_id)
    )
    if app_user is not None:
        query = query.where(forms_usable_by(app_user))
    if xml_form_id is not None:
        query = query.where(Form.xml_form_id == xml_form_id)
    return [
        ListedForm(form_id, name or form_id, version, md5, bool(media))
        for form_id, name, version, md5, media in session.execute(query)
    ]


def media_files(session: Session, *, version_id: int, project_id: int) -> list[MediaFile]:
    """The media of a form version with the md5 a manifest announces, by name: uploaded files, and the
    project's entity lists for the ``<list>.csv`` names the form uses (a list wins over an upload)."""
    rows = session.execute(
        select(FormAttachment.name, Blob.md5)
        .outerjoin(Blob, Blob.sha256 == FormAttachment.blob_sha256)
        .where(FormAttachment.form_version_id == version_id)
        .order_by(FormAttachment.name)
    ).all()
    lists = entity_serve.datasets_for_attachments(session, project_id=project_id, names=[n for n, _ in rows])
    files = []
    for name, md5 in rows:
        dataset = lists.get(name)
        if dataset is not None:
            files.append(MediaFile(name, entity_lists.list_hash(dataset), dataset.name))
        elif md5 is not None:
            files.append(MediaFile(name, md5))
    return files
