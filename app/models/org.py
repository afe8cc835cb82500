"""Organisations, their projects, and a project's encryption key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, JSONType, UTCDateTime, utcnow


class Organisation(Base):
    """A partner agency (UN agency, NGO, government office). Its raw data is never shown to another."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    projects: Mapped[list[Project]] = relationship(back_populates="organisation")


class Project(Base):
    """A body of work of one organisation: its forms, devices, submissions and people with roles."""

    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(255))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    # ISO3 codes of the countries the project works in; geopoints outside them are flagged on review.
    countries: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # Indicators count approved submissions only, unless the project opts to include received ones.
    indicators_include_received: Mapped[bool] = mapped_column(default=False)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    is_archived: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, onupdate=utcnow)

    organisation: Mapped[Organisation] = relationship(back_populates="projects")


class ProjectPartner(Base):
    """A partner organisation a project is shared with (migration 0017): its people, given roles in the
    project, see only the rows collected for their organisation (app/services/protection/row_access.py)."""

    __tablename__ = "project_partners"
    __table_args__ = (sa.UniqueConstraint("project_id", "organisation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProjectKey(Base):
    """The key pair of an encrypted project. The private key is stored only passphrase-encrypted:
    Ruta itself cannot read encrypted submissions until a holder of the passphrase asks."""

    __tablename__ = "project_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id"), unique=True)
    public_key: Mapped[str] = mapped_column(sa.Text)  # base64 DER, as it goes into the XForm
    private_key_pem: Mapped[bytes] = mapped_column(sa.LargeBinary)  # PKCS#8, encrypted
    hint: Mapped[str] = mapped_column(sa.String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
