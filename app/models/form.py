"""Forms, their immutable versions, and the media files a version expects."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, JSONType, UTCDateTime, utcnow

FORM_STATES = ("open", "closing", "closed")
# Information sharing protocol classes, least to most protected (app/services/protection/classification.py).
SENSITIVITY_CLASSES = ("public", "restricted", "confidential", "strictly_confidential")


class Form(Base):
    """A form of a project, identified by its ``xmlFormId``; points at its published and draft versions."""

    __tablename__ = "forms"
    __table_args__ = (
        sa.UniqueConstraint("project_id", "xml_form_id"),
        sa.CheckConstraint("state IN ('open','closing','closed')", name="state_known"),
        sa.CheckConstraint(
            "sensitivity IN ('public','restricted','confidential','strictly_confidential')",
            name="sensitivity_known",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id"), index=True)
    xml_form_id: Mapped[str] = mapped_column(sa.String(255))
    name: Mapped[str] = mapped_column(sa.String(512), default="")
    state: Mapped[str] = mapped_column(sa.String(16), default="open")
    # use_alter: forms and form_versions point at each other.
    current_version_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("form_versions.id", use_alter=True, name="fk_forms_current_version")
    )
    draft_version_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("form_versions.id", use_alter=True, name="fk_forms_draft_version")
    )
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # Records older than this many days (by receive time) are purged by the retention job; None: kept.
    retention_days: Mapped[int | None] = mapped_column()
    # The form's microdata class; fields may be classed higher in settings["fieldClasses"].
    sensitivity: Mapped[str] = mapped_column(sa.String(24), default="restricted", server_default="restricted")
    # Archived: kept with its submissions, but offered to no device and listed apart (migration 0020).
    is_archived: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    current_version: Mapped[FormVersion | None] = relationship(
        foreign_keys=[current_version_id], post_update=True
    )
    draft_version: Mapped[FormVersion | None] = relationship(
        foreign_keys=[draft_version_id], post_update=True
    )


class FormVersion(Base):
    """One version of a form: the exact XForm bytes served to devices and what Ruta learnt from them.

    Published versions never change: ``xml``, ``md5`` and ``schema`` are written once. A draft is a
    version with ``published_at`` unset; publishing sets it (and the version string, when given).
    """

    __tablename__ = "form_versions"
    # A version string names one published version of a form; drafts may reuse it until published.
    __table_args__ = (
        sa.Index(
            "uq_form_versions_published_version",
            "form_id",
            "version",
            unique=True,
            sqlite_where=sa.text("published_at IS NOT NULL"),
            postgresql_where=sa.text("published_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(sa.ForeignKey("forms.id"), index=True)
    version: Mapped[str] = mapped_column(sa.String(255), default="")
    xml: Mapped[bytes] = mapped_column(sa.LargeBinary)
    md5: Mapped[str] = mapped_column(sa.String(32))
    sha256: Mapped[str] = mapped_column(sa.String(64))
    # The uploaded XLSForm, when the version came from one (kept so it can be downloaded again).
    xlsform_sha256: Mapped[str | None] = mapped_column(sa.ForeignKey("blobs.sha256"))
    xlsform_name: Mapped[str | None] = mapped_column(sa.String(255))
    schema: Mapped[dict[str, Any]] = mapped_column(JSONType)
    warnings: Mapped[list[str]] = mapped_column(JSONType, default=list)
    validation_status: Mapped[str] = mapped_column(sa.String(16), default="unavailable")
    validation_messages: Mapped[list[str]] = mapped_column(JSONType, default=list)
    type_changes: Mapped[list[dict[str, str]]] = mapped_column(JSONType, default=list)
    key_id: Mapped[int | None] = mapped_column(sa.ForeignKey("project_keys.id"))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    published_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    attachments: Mapped[list[FormAttachment]] = relationship(
        cascade="all, delete-orphan", order_by="FormAttachment.name"
    )


class FormAttachment(Base):
    """A media file a form version expects (from the XForm), with its bytes once uploaded."""

    __tablename__ = "form_attachments"
    __table_args__ = (sa.UniqueConstraint("form_version_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    form_version_id: Mapped[int] = mapped_column(sa.ForeignKey("form_versions.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(255))
    kind: Mapped[str] = mapped_column(sa.String(16), default="file")
    blob_sha256: Mapped[str | None] = mapped_column(sa.ForeignKey("blobs.sha256"))
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
