"""Web users, their project roles, and API sessions (bearer tokens)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth import passwords, tokens
from app.auth.actor import Actor
from app.db import utcnow
from app.errors import (
    AlreadyExistsError,
    AuthenticationFailedError,
    InvalidValueError,
    NotFoundError,
)
from app.models import ApiSession, Organisation, Project, ProjectRole, User
from app.models.user import ROLES
from app.services import audit

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
    if user.organisation_id is not None and user.organisation_id != project.organisation_id:
        # Raw data never crosses organisations, so neither do project roles.
        raise InvalidValueError("A user can only have roles in projects of their own organisation.")
    existing = session.scalar(
        select(ProjectRole).where(ProjectRole.user_id == user.id, ProjectRole.project_id == project.id)
    )
    if role is None:
        if existing is not None:
            session.delete(existing)
    elif existing is None:
        existing = ProjectRole(user_id=user.id, project_id=project.id, role=role)
        session.add(existing)
    else:
        existing.role = role
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


def create_session(session: Session, *, user: User, ttl: timedelta) -> IssuedSession:
    token = tokens.new_token()
    now = utcnow()
    row = ApiSession(
        token_hash=tokens.token_hash(token), user_id=user.id, created_at=now, expires_at=now + ttl
    )
    session.add(row)
    user.last_login_at = now
    session.flush()
    audit.record(
        session, actor=Actor(user=user), action="user.session.start", subject_type="user", subject_id=user.id
    )
    return IssuedSession(token, now, row.expires_at)


def user_for_session_token(session: Session, token: str) -> User | None:
    row = session.scalar(select(ApiSession).where(ApiSession.token_hash == tokens.token_hash(token)))
    if row is None or row.expires_at <= utcnow():
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
