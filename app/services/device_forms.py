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
from app.services.app_users import forms_usable_by


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


def media_files(session: Session, *, version_id: int) -> list[MediaFile]:
    """The uploaded media of a form version with the md5 a manifest announces, by name."""
    rows = session.execute(
        select(FormAttachment.name, Blob.md5)
        .join(Blob, Blob.sha256 == FormAttachment.blob_sha256)
        .where(FormAttachment.form_version_id == version_id)
        .order_by(FormAttachment.name)
    )
    return [MediaFile(name, md5) for name, md5 in rows]
