"""Web users, their project roles, and API sessions (bearer tokens)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.orm import Session

from app.auth import passwords, tokens
from app.auth.actor import Actor
from app.auth.policy import COORDINATOR
from app.db import utcnow
from app.errors import (
    AlreadyExistsError,
    AuthenticationFailedError,
    InvalidValueError,
    NotFoundError,
)
from app.models import ApiSession, Organisation, Project, ProjectRole, User
from app.models.user import ROLES
from app.services.audit import events as audit
from app.services.protection import row_access

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalise_email(email: str) -> str:
    email = (email or "").strip().lower()
    if not _EMAIL.match(email) or len(email) > 255:
        raise InvalidValueError(f"{email!r} is not an email address.", details={"field": "email"})
    return email


def check_password_strength(password: str) -> None:
    if len(password or "") < passwords.MIN_PASSWORD_LENGTH:
        raise InvalidValueError(
            f"The password must have at least {passwords.MIN_PASSWORD_LENGTH} characters.",
            details={"field": "password"},
        )


def set_password(user: User, password: str, *, realm: str) -> None:
    check_password_strength(password)
    user.password_hash = passwords.hash_password(password)
    user.digest_ha1 = passwords.digest_ha1(user.email, realm, password)


def create_user(
    session: Session,
    *,
    actor: Actor | None,
    email: str,
    password: str | None,
    realm: str,
    display_name: str = "",
    organisation_id: int | None = None,
    is_admin: bool = False,
) -> User:
    email = normalise_email(email)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise AlreadyExistsError(f"A user with the email address {email} already exists.")
    if organisation_id is not None and (
        not isinstance(organisation_id, int) or session.get(Organisation, organisation_id) is None
    ):
        raise InvalidValueError("organisationId must name an existing organisation.")
    user = User(
        email=email,
        display_name=display_name or email.split("@")[0],
        organisation_id=organisation_id,
        is_admin=is_admin,
    )
    if password is not None:
        set_password(user, password, realm=realm)
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="user.create",
        subject_type="user",
        subject_id=user.id,
        details={"email": email, "is_admin": is_admin},
    )
    return user


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == (email or "").strip().lower()))


def authenticate(session: Session, *, email: str, password: str) -> User:
    user = get_user_by_email(session, email)
    # Verify against a dummy hash when the user is unknown so timing does not reveal which emails exist.
    stored = user.password_hash if user and user.is_active else _DUMMY_HASH
    if not passwords.verify_password(stored, password) or user is None or not user.is_active:
        raise AuthenticationFailedError()
    if user.password_hash and passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    return user


_DUMMY_HASH = passwords.hash_password("not a real password, used for constant timing")


def assign_role(
    session: Session, *, actor: Actor, project: Project, user: User, role: str | None
) -> ProjectRole | None:
    """Give ``user`` ``role`` in ``project`` (or remove their role when ``role`` is None)."""
    if role is not None and role not in ROLES:
        raise InvalidValueError(
            f"Unknown role {role!r}; use one of: {', '.join(ROLES)}.", details={"field": "role"}
        )
    if (
        role is not None
        and role != COORDINATOR
        and user.organisation_id is not None
        and user.organisation_id != project.organisation_id
        and not row_access.is_partner(session, project, user.organisation_id)
    ):
        # Raw data never crosses organisations, so neither do project roles: a partner's people read
        # only their organisation's rows (row_access), and a coordinator reads no row at all.
        raise InvalidValueError(
            "A user can only have roles in projects of their own organisation or of one the project is "
            "shared with (POST /v1/projects/{id}/partners); any organisation's person may coordinate."
        )
    existing = session.scalar(
        select(ProjectRole).where(ProjectRole.user_id == user.id, ProjectRole.project_id == project.id)
    )
    if role is None:
        if existing is not None:
            session.delete(existing)
    elif existing is None:
        existing = ProjectRole(user_id=user.id, project_id=project.id, role=role)
        session.add(existing)
    elif existing.role != role:
        existing.role = role
        # A coordinator's raw-row grant belongs to that role: it never carries over to another one,
        # nor back when the person is made coordinator again.
        existing.rows_granted_at = None
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="project.role",
        project_id=project.id,
        subject_type="user",
        subject_id=user.id,
        details={"role": role},
    )
    actor._roles = None  # the actor may have changed their own role
    return existing if role is not None else None


@dataclass(frozen=True)
class IssuedSession:
    token: str
    created_at: datetime
    expires_at: datetime


def _start(session: Session, *, user: User, ttl: timedelta, kind: str, data: dict[str, Any] | None) -> str:
    token = tokens.new_token()
    now = utcnow()
    # The person's expired sessions go as a new one starts, so the table holds little but live ones.
    session.execute(delete(ApiSession).where(ApiSession.user_id == user.id, ApiSession.expires_at <= now))
    session.add(
        ApiSession(
            token_hash=tokens.token_hash(token),
            user_id=user.id,
            kind=kind,
            data=data,
            created_at=now,
            expires_at=now + ttl,
        )
    )
    user.last_login_at = now
    session.flush()
    return token


def create_session(session: Session, *, user: User, ttl: timedelta) -> IssuedSession:
    """A bearer token (``POST /v1/sessions``)."""
    token = _start(session, user=user, ttl=ttl, kind="bearer", data=None)
    row = session.scalar(select(ApiSession).where(ApiSession.token_hash == tokens.token_hash(token)))
    assert row is not None
    audit.record(
        session, actor=Actor(user=user), action="user.session.start", subject_type="user", subject_id=user.id
    )
    return IssuedSession(token, row.created_at, row.expires_at)


def _live(session: Session, token: str, kind: str) -> ApiSession | None:
    row = session.scalar(
        select(ApiSession).where(ApiSession.token_hash == tokens.token_hash(token), ApiSession.kind == kind)
    )
    return row if row is not None and row.expires_at > utcnow() else None


def user_for_session_token(session: Session, token: str) -> User | None:
    row = _live(session, token, "bearer")
    if row is None:
        return None
    user = session.get(User, row.user_id)
    return user if user is not None and user.is_active else None


def end_session(session: Session, *, user: User, token: str) -> bool:
    """End one of ``user``'s own sessions; someone else's token is treated as unknown."""
    row = session.scalar(select(ApiSession).where(ApiSession.token_hash == tokens.token_hash(token)))
    if row is None or row.user_id != user.id:
        return False
    session.delete(row)
    audit.record(session, actor=None, action="user.session.end", subject_type="user", subject_id=row.user_id)
    return True


def start_web_session(session: Session, *, user: User, ttl: timedelta, data: dict[str, Any]) -> str:
    """The admin's login: a session whose token is all its cookie holds (the caller audits the login)."""
    return _start(session, user=user, ttl=ttl, kind="web", data=data)


def web_session(session: Session, token: str) -> ApiSession | None:
    """The live admin session of this cookie token, if any."""
    return _live(session, token, "web")


def save_web_session_data(session: Session, *, token: str, data: dict[str, Any]) -> None:
    session.execute(
        update(ApiSession)
        .where(ApiSession.token_hash == tokens.token_hash(token), ApiSession.kind == "web")
        .values(data=data)
    )


def end_web_session(session: Session, *, token: str) -> None:
    """Logout: the row goes, so the cookie (or any copy of it) no longer logs anyone in."""
    session.execute(
        delete(ApiSession).where(ApiSession.token_hash == tokens.token_hash(token), ApiSession.kind == "web")
    )


def change_password(
    session: Session,
    *,
    actor: Actor | None,
    user: User,
    password: str,
    realm: str,
    keep_token: str | None = None,
) -> int:
    """Set ``user``'s password and end all their sessions, bearer and web, but the one that asked
    (``keep_token``): whoever learnt the old password and logged in with it is out. How many ended."""
    set_password(user, password, realm=realm)
    query = delete(ApiSession).where(ApiSession.user_id == user.id)
    if keep_token is not None:
        query = query.where(ApiSession.token_hash != tokens.token_hash(keep_token))
    ended = cast(CursorResult[Any], session.execute(query)).rowcount
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="user.password",
        subject_type="user",
        subject_id=user.id,
        details={"sessionsEnded": ended},
    )
    return ended


def list_roles(session: Session, *, project: Project) -> list[ProjectRole]:
    return list(
        session.scalars(
            select(ProjectRole).where(ProjectRole.project_id == project.id).order_by(ProjectRole.id)
        )
    )


def role_of(session: Session, *, project: Project, user: User) -> str | None:
    return session.scalar(
        select(ProjectRole.role).where(ProjectRole.project_id == project.id, ProjectRole.user_id == user.id)
    )


def get_user_or_none(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def require_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError()
    return user


def list_users(session: Session, *, organisation_id: int | None) -> list[User]:
    query = select(User).order_by(User.email)
    if organisation_id is not None:
        query = query.where(User.organisation_id == organisation_id)
    return list(session.scalars(query))


# Locales the admin interface is translated into (a person's choice is kept on their account).
UI_LOCALES = ("es", "en", "pt")


def set_locale(session: Session, *, actor: Actor, user: User, locale: str) -> User:
    if locale not in UI_LOCALES:
        raise InvalidValueError(f"The language must be one of {', '.join(UI_LOCALES)}.")
    if user.locale != locale:
        user.locale = locale
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="user.locale",
            subject_type="user",
            subject_id=user.id,
            details={"locale": locale},
        )
    return user


def update_user(
    session: Session,
    *,
    actor: Actor,
    user: User,
    display_name: str | None = None,
    organisation_id: int | None,
    is_admin: bool | None = None,
    is_active: bool | None = None,
) -> list[str]:
    """An administrator edits a person; the fields changed. Deactivating ends all the person's sessions.
    Nobody removes their own administrator right or deactivates themselves (there would be no one left
    to undo it); a person with roles in an organisation's projects cannot be moved out of it."""
    changed: list[str] = []
    if display_name is not None and len(display_name.strip()) > 255:
        raise InvalidValueError("A name has at most 255 characters.", details={"field": "displayName"})
    if display_name is not None and display_name.strip() and display_name.strip() != user.display_name:
        user.display_name = display_name.strip()
        changed.append("display_name")
    if organisation_id != user.organisation_id:
        if organisation_id is not None and session.get(Organisation, organisation_id) is None:
            raise InvalidValueError("organisationId must name an existing organisation.")
        elsewhere = session.scalar(
            select(ProjectRole.id)
            .join(Project, Project.id == ProjectRole.project_id)
            .where(ProjectRole.user_id == user.id, Project.organisation_id != organisation_id)
            .limit(1)
        )
        if organisation_id is not None and elsewhere is not None:
            raise InvalidValueError(
                "This person has roles in projects of another organisation: revoke them first."
            )
        user.organisation_id = organisation_id
        changed.append("organisation_id")
    is_self = actor.user_id == user.id
    if is_admin is not None and is_admin != user.is_admin:
        if is_self:
            raise InvalidValueError("You cannot remove your own administrator right.")
        user.is_admin = is_admin
        changed.append("is_admin")
    if is_active is not None and is_active != user.is_active:
        if is_self:
            raise InvalidValueError("You cannot deactivate your own account.")
        user.is_active = is_active
        changed.append("is_active")
        if not is_active:
            session.execute(delete(ApiSession).where(ApiSession.user_id == user.id))
    if changed:
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="user.update",
            subject_type="user",
            subject_id=user.id,
            details={"fields": changed},
        )
    return changed


def roles_of_user(session: Session, *, user: User) -> list[tuple[ProjectRole, Project]]:
    rows = session.execute(
        select(ProjectRole, Project)
        .join(Project, Project.id == ProjectRole.project_id)
        .where(ProjectRole.user_id == user.id)
        .order_by(Project.name)
    )
    return [(role, project) for role, project in rows]
