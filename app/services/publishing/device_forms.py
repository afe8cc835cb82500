"""What a device reads about forms: the formList and a form's manifest, each in one query.

Collect asks for the formList on every "Get blank form" and every update check, so its cost must not
grow with the number of forms: one query reads every listed form with its published version's md5,
version string and whether it has media, selecting only those columns (a version's XForm bytes and
schema are large and the list needs neither).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, bindparam, exists, or_, select
from sqlalchemy.orm import Session

from app.models import AppUser, AppUserForm, Blob, Form, FormAttachment, FormVersion, Project
from app.services import entities as entity_lists
from app.services.accounts import app_users
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


def _listed_for_token(by_form_id: bool) -> Select[Any]:
    """The device holding a token, the project it asks for, and the forms it may fill there, in one
    statement (one round trip: Collect asks for the formList on every update check). A row per form;
    one row with no form when it may fill none (or the project is not its own: the caller refuses)."""
    usable = or_(
        AppUser.all_forms,
        Form.id.in_(select(AppUserForm.form_id).where(AppUserForm.app_user_id == AppUser.id)),
    )
    conditions = [
        Form.project_id == AppUser.project_id,
        Form.project_id == bindparam("t_project"),
        Form.state == "open",
        usable,
    ]
    if by_form_id:
        conditions.append(Form.xml_form_id == bindparam("t_form"))
    published = Form.__table__.join(FormVersion, FormVersion.id == Form.current_version_id)
    has_media = exists().where(FormAttachment.form_version_id == FormVersion.id)
    # The one device-token query (app_users), with the forms joined on.
    return (
        app_users.device_token_query(
            Form.xml_form_id, Form.name, FormVersion.version, FormVersion.md5, has_media
        )
        .outerjoin(published, and_(*conditions))
        .order_by(Form.xml_form_id)
    )


# Built once per process, as the device query of app_users (the values are parameters).
_LISTED_FOR_TOKEN = {by_form_id: _listed_for_token(by_form_id) for by_form_id in (False, True)}


def forms_for_token(
    session: Session, *, token: str, project_id: int, xml_form_id: str | None = None
) -> tuple[AppUser, Project | None, list[ListedForm]] | None:
    """What ``fillable_forms`` lists for the device holding ``token``, with that device (revoked or not:
    the caller decides) and the project asked for, as ``app_users.device_for_token`` finds them; None
    for a token nobody holds. The forms are only meaningful once the caller has let the device in."""
    params = app_users.device_token_params(token, project_id)
    if xml_form_id is not None:
        params["t_form"] = xml_form_id
    rows = session.execute(_LISTED_FOR_TOKEN[xml_form_id is not None], params).all()
    if not rows:
        return None
    listed = [
        ListedForm(form_id, name or form_id, version, md5, bool(media))
        for _, _, form_id, name, version, md5, media in rows
        if form_id is not None
    ]
    return rows[0][0], rows[0][1], listed


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
