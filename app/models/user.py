"""People and devices: web users with per-project roles, API sessions, and app users (device tokens)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, JSONType, UTCDateTime, utcnow

ROLES = ("manager", "supervisor", "analyst", "enumerator", "coordinator")


class User(Base):
    """A person with a login. ``is_admin`` is the system administrator; everyone else acts through
    project roles, and only within their own organisation."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(255), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(255), default="")
    organisation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    # md5(email:realm:password): HTTP Digest, which Collect uses over plain-http hub Wi-Fi, needs it.
    # It only ever authenticates device endpoints; the web login uses the argon2 hash above.
    digest_ha1: Mapped[str | None] = mapped_column(sa.String(32))
    is_admin: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)
    locale: Mapped[str | None] = mapped_column(sa.String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Optional two-factor login (RFC 6238 TOTP): the base32 secret once enrolment is confirmed, sealed
    # by app/auth/secret_box.py (migration 0024), and the last time step a code was accepted for, so
    # one code cannot log in twice (migration 0019).
    totp_secret: Mapped[str | None] = mapped_column(sa.String(255))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_last_step: Mapped[int | None] = mapped_column(sa.BigInteger)

    roles: Mapped[list[ProjectRole]] = relationship(back_populates="user", cascade="all, delete-orphan")


class ProjectRole(Base):
    __tablename__ = "project_roles"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "project_id"),
        sa.CheckConstraint(
            "role IN ('manager','supervisor','analyst','enumerator','coordinator')", name="role_known"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id"), index=True)
    role: Mapped[str] = mapped_column(sa.String(16))
    # A grant on top of the role: this person may see sensitive fields (migration 0006).
    may_see_sensitive: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # A coordinator granted the project's raw rows (every partner's) since then; None: indicators only
    # (migration 0027). Cleared whenever the role changes, so the grant never outlives the assignment.
    rows_granted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="roles")


SESSION_KINDS = ("bearer", "web")


class ApiSession(Base):
    """A logged-in session of a person; only its random token's sha256 is stored.

    ``bearer``: a token from ``POST /v1/sessions``, sent as ``Authorization: Bearer``. ``web``: the
    admin's login, whose cookie holds only the token; ``data`` keeps what the session remembers (its
    CSRF token, the chosen language). Deleting the row ends the session on every app server at once:
    logout, ``DELETE /v1/sessions/{token}`` and a password change do.
    """

    __tablename__ = "api_sessions"
    __table_args__ = (sa.CheckConstraint("kind IN ('bearer','web')", name="kind_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(8), default="bearer", server_default="bearer")
    data: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LoginFailure(Base):
    """A wrong password from a client address: the login limits count these rows (when no Redis is
    configured), so every worker and app server sees the same count. Rows older than the longest
    limit's window are deleted as new ones arrive."""

    __tablename__ = "login_failures"
    __table_args__ = (sa.Index("ix_login_failures_client_key_failed_at", "client_key", "failed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The client's address (an IPv6 address's /64 network: one host controls all of it).
    client_key: Mapped[str] = mapped_column(sa.String(64))
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class AppUser(Base):
    """A device credential: a token in the server URL, scoped to one project and some of its forms.

    The token is shown once at creation; only its sha256 is kept, so a leaked database does not leak
    working device credentials. Revoking sets ``revoked_at``; the row stays for the audit trail.
    """

    __tablename__ = "app_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id"), index=True)
    display_name: Mapped[str] = mapped_column(sa.String(255))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # True: every form of the project; False: only the forms listed in app_user_forms.
    all_forms: Mapped[bool] = mapped_column(default=True)
    # The organisation its submissions are collected for (migration 0017): the creator's, when that is a
    # partner of the project; else the project's own.
    organisation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisations.id"))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Attributes entity lists filter on (migration 0025): name -> the values it holds, e.g.
    # {"team": ["north"]}; a list with ``match_attributes`` shows only entities whose property matches.
    attributes: Mapped[dict[str, list[str]]] = mapped_column(JSONType, default=dict, server_default="{}")

    forms: Mapped[list[AppUserForm]] = relationship(cascade="all, delete-orphan")

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class AppUserForm(Base):
    __tablename__ = "app_user_forms"
    __table_args__ = (sa.UniqueConstraint("app_user_id", "form_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    app_user_id: Mapped[int] = mapped_column(sa.ForeignKey("app_users.id", ondelete="CASCADE"))
    form_id: Mapped[int] = mapped_column(sa.ForeignKey("forms.id", ondelete="CASCADE"), index=True)


class RecoveryCode(Base):
    """A one-use code that logs a person with two-factor login in when their phone is lost. Only its
    argon2 hash is kept; the codes are shown once, at enrolment."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PasswordReset(Base):
    """A one-time code an administrator issues so a person can set a new password without e-mail.
    Only the code's sha256 is kept (it is random, like a session token); it works once, until
    ``expires_at``."""

    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
