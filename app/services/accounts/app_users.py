"""App users: device credentials scoped to a project and some of its forms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, select
from sqlalchemy.orm import Session

from app.auth import probe_cache, tokens
from app.auth.actor import Actor
from app.db import utcnow
from app.errors import InvalidValueError, NotFoundError
from app.models import AppUser, AppUserForm, Dataset, Form, Project
from app.services.audit import events as audit
from app.services.protection import row_access
from app.services.quality import devices as quality_devices


@dataclass(frozen=True)
class IssuedAppUser:
    app_user: AppUser
    token: str  # shown once; only its hash is stored


def create_app_user(
    session: Session,
    *,
    actor: Actor | None,
    project: Project,
    display_name: str,
    form_ids: list[str] | None = None,
    attributes: object = None,
) -> IssuedAppUser:
    display_name = (display_name or "").strip()
    if not display_name:
        raise InvalidValueError("An app user needs a display name (e.g. the phone or enumerator).")
    token = tokens.new_token()
    app_user = AppUser(
        project_id=project.id,
        display_name=display_name[:255],
        token_hash=tokens.token_hash(token),
        all_forms=form_ids is None,
        created_by_id=actor.user_id if actor else None,
        organisation_id=row_access.credential_organisation(session, actor=actor, project=project),
        attributes=clean_attributes(attributes) if attributes is not None else {},
    )
    session.add(app_user)
    session.flush()
    if form_ids is not None:
        set_app_user_forms(session, actor=actor, app_user=app_user, xml_form_ids=form_ids, audit_it=False)
    audit.record(
        session,
        actor=actor,
        action="app_user.create",
        project_id=project.id,
        subject_type="app_user",
        subject_id=app_user.id,
        details={"display_name": display_name, "forms": form_ids, "attributes": app_user.attributes},
    )
    return IssuedAppUser(app_user, token)


def set_app_user_forms(
    session: Session,
    *,
    actor: Actor | None,
    app_user: AppUser,
    xml_form_ids: list[str],
    audit_it: bool = True,
) -> None:
    forms = list(
        session.scalars(
            select(Form).where(Form.project_id == app_user.project_id, Form.xml_form_id.in_(xml_form_ids))
        )
    )
    missing = set(xml_form_ids) - {f.xml_form_id for f in forms}
    if missing:
        raise InvalidValueError(f"No such forms in this project: {', '.join(sorted(missing))}.")
    app_user.forms.clear()
    session.flush()
    app_user.forms.extend(AppUserForm(form_id=f.id) for f in forms)
    app_user.all_forms = False
    session.flush()
    if audit_it:
        audit.record(
            session,
            actor=actor,
            action="app_user.forms",
            project_id=app_user.project_id,
            subject_type="app_user",
            subject_id=app_user.id,
            details={"forms": xml_form_ids},
        )


def allow_all_forms(session: Session, *, actor: Actor, app_user: AppUser) -> None:
    """Let the device fill in every form of its project again (audited like a form list change)."""
    if app_user.all_forms:
        return
    app_user.forms.clear()
    app_user.all_forms = True
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="app_user.forms",
        project_id=app_user.project_id,
        subject_type="app_user",
        subject_id=app_user.id,
        details={"forms": "all"},
    )


MAX_ATTRIBUTES = 20
MAX_ATTRIBUTE_VALUES = 200
MAX_ATTRIBUTE_TEXT = 255


def clean_attributes(raw: object) -> dict[str, list[str]]:
    """``{"team": "north", "code": ["COL-ALB", ...]}`` as stored: each name -> its list of values."""
    if not isinstance(raw, dict):
        raise InvalidValueError(
            'attributes must be an object of names to a value or a list of values, e.g. {"team": "north"}.',
            details={"field": "attributes"},
        )
    if len(raw) > MAX_ATTRIBUTES:
        raise InvalidValueError(f"Give at most {MAX_ATTRIBUTES} attributes.", details={"field": "attributes"})
    clean: dict[str, list[str]] = {}
    for name, value in raw.items():
        values = value if isinstance(value, list) else [value]
        if (
            not isinstance(name, str)
            or not name.strip()
            or len(name) > MAX_ATTRIBUTE_TEXT
            or len(values) > MAX_ATTRIBUTE_VALUES
            or not all(isinstance(v, str) and 0 < len(v) <= MAX_ATTRIBUTE_TEXT for v in values)
        ):
            raise InvalidValueError(
                f"The attribute {str(name)[:40]!r} must be a name with a text value or a list of at most "
                f"{MAX_ATTRIBUTE_VALUES} text values (1 to {MAX_ATTRIBUTE_TEXT} characters each).",
                details={"field": "attributes"},
            )
        clean[name.strip()] = list(dict.fromkeys(values))
    return clean


def set_attributes(session: Session, *, actor: Actor | None, app_user: AppUser, attributes: object) -> None:
    """Replace the app user's attributes; the lists filtering on them change for its device."""
    from app.services.entities import lists as entity_lists

    clean = clean_attributes(attributes)
    if clean == (app_user.attributes or {}):
        return
    app_user.attributes = clean
    session.flush()
    for dataset in session.scalars(select(Dataset).where(Dataset.project_id == app_user.project_id)):
        if dataset.match_attributes:
            entity_lists.bump(session, dataset)  # what this device is served changes: it must fetch again
    audit.record(
        session,
        actor=actor,
        action="app_user.attributes",
        project_id=app_user.project_id,
        subject_type="app_user",
        subject_id=app_user.id,
        details={"attributes": clean},
    )


def revoke_app_user(session: Session, *, actor: Actor, app_user: AppUser) -> AppUser:
    if app_user.revoked_at is None:
        app_user.revoked_at = utcnow()
        session.flush()
        probe_cache.forget_all()
        quality_devices.remember_revoked(session, app_user=app_user)
        audit.record(
            session,
            actor=actor,
            action="app_user.revoke",
            project_id=app_user.project_id,
            subject_type="app_user",
            subject_id=app_user.id,
        )
    return app_user


def device_token_query(*columns: Any) -> Select[Any]:
    """The one query a device request starts with: the app user holding a token (revoked or not: the
    caller's ``device_actor`` decides) and the project it asks for (None if there is no such project),
    then ``columns``; a caller joins what they need. Its parameters: ``device_token_params``."""
    return (
        select(AppUser, Project, *columns)
        .select_from(AppUser)
        .outerjoin(Project, Project.id == bindparam("t_project"))
        .where(AppUser.token_hash == bindparam("t_hash"))
    )


def device_token_params(token: str, project_id: int) -> dict[str, Any]:
    return {"t_project": project_id, "t_hash": tokens.token_hash(token)}


# Built once per process (every device request runs it); the values are parameters.
_DEVICE_QUERY = device_token_query()


def device_for_token(session: Session, token: str, project_id: int) -> tuple[AppUser, Project | None] | None:
    """The app user holding ``token`` and the project it asks for, in one query. The project lands in
    the session, so ``session.get(Project, id)`` later in the request needs no query."""
    row = session.execute(_DEVICE_QUERY, device_token_params(token, project_id)).first()
    return None if row is None else (row[0], row[1])


def forms_usable_by(app_user: AppUser) -> ColumnElement[bool]:
    """SQL for the forms ``app_user`` may fill in: its project's, all of them or only those listed."""
    of_project = Form.project_id == app_user.project_id
    if app_user.all_forms:
        return of_project
    listed = select(AppUserForm.form_id).where(AppUserForm.app_user_id == app_user.id)
    return and_(of_project, Form.id.in_(listed))


def may_use_form(session: Session, app_user: AppUser, form: Form) -> bool:
    if form.project_id != app_user.project_id:
        return False
    if app_user.all_forms:
        return True  # what forms_usable_by says, without a query
    return session.scalar(select(Form.id).where(Form.id == form.id, forms_usable_by(app_user))) is not None


def get_app_user(session: Session, *, project: Project, app_user_id: int) -> AppUser:
    app_user = session.get(AppUser, app_user_id)
    if app_user is None or app_user.project_id != project.id:
        raise NotFoundError()
    return app_user


def list_app_users(session: Session, *, project: Project) -> list[AppUser]:
    return list(session.scalars(select(AppUser).where(AppUser.project_id == project.id).order_by(AppUser.id)))


def form_ids_of(session: Session, app_user: AppUser) -> list[str]:
    """The xmlFormIds an app user limited to some forms may use."""
    return list(
        session.scalars(
            select(Form.xml_form_id)
            .join(AppUserForm, AppUserForm.form_id == Form.id)
            .where(AppUserForm.app_user_id == app_user.id)
            .order_by(Form.xml_form_id)
        )
    )


def reissue_token(session: Session, *, actor: Actor, app_user: AppUser) -> str:
    """A new token for a device credential (a replacement phone); the old token stops working now."""
    from app.errors import ConflictError

    if app_user.revoked_at is not None:
        raise ConflictError("This device credential is revoked; create a new one for the new phone.")
    token = tokens.new_token()
    app_user.token_hash = tokens.token_hash(token)
    session.flush()
    probe_cache.forget_all()
    audit.record(
        session,
        actor=actor,
        action="app_user.reissue",
        project_id=app_user.project_id,
        subject_type="app_user",
        subject_id=app_user.id,
    )
    return token
