"""Entity lists (ODK "datasets"): the lists, their entities, and every version of each entity.

Like submissions, an entity's versions are never overwritten: each create, update, delete or restore
adds or marks rows, and offline updates that meet a newer version are kept and flagged as a conflict
for a person to resolve. ``Dataset.revision`` goes up on every change to a list's served contents, so
the manifest hash and the CSV's ETag change when the list changes and only then.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, JSONType, UTCDateTime, utcnow

CONFLICTS = ("soft", "hard")
SOURCES = ("submission", "api", "code")


class Dataset(Base):
    """An entity list of a project: its name (what forms reference), properties and settings."""

    __tablename__ = "datasets"
    __table_args__ = (sa.UniqueConstraint("project_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(255))
    # Property names in the order they were first declared (by a form's save_to or the API).
    properties: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # Central's approvalRequired: submissions change the list only once approved.
    approval_required: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # Central's ownerOnly: an app user gets only the entities it created.
    owner_only: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # Properties an app user's attributes of the same name must match (migration 0025): with ["team"],
    # an app user gets only the entities whose ``team`` is one of its own ``team`` values, and an app
    # user without that attribute gets none (fail closed).
    match_attributes: Mapped[list[str]] = mapped_column(JSONType, default=list, server_default="[]")
    revision: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Entity(Base):
    """One entity of a list, identified by the UUID the form or API gave it."""

    __tablename__ = "entities"
    __table_args__ = (
        sa.UniqueConstraint("dataset_id", "uuid"),
        sa.CheckConstraint("conflict IS NULL OR conflict IN ('soft','hard')", name="conflict_known"),
        sa.Index("ix_entities_dataset_deleted_id", "dataset_id", "deleted", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(sa.ForeignKey("datasets.id"))
    uuid: Mapped[str] = mapped_column(sa.String(64))
    label: Mapped[str] = mapped_column(sa.String(1024), default="")
    current_version: Mapped[int] = mapped_column(default=1)
    # The current version's properties, repeated here so a list is served without joining versions.
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    deleted: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Unresolved conflict, the worse of its versions' (hard: the same property changed twice).
    conflict: Mapped[str | None] = mapped_column(sa.String(8))
    creator_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    creator_app_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("app_users.id"), index=True)
    # The organisation whose submission (or person) created it (migration 0027): a partner reads only
    # its own entities of a shared project (``row_access.visible_entities``); None: the owners' only.
    organisation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisations.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    versions: Mapped[list[EntityVersion]] = relationship(
        order_by="EntityVersion.version", cascade="all, delete-orphan"
    )


class EntityVersion(Base):
    """One version of an entity as it was written, with where it came from.

    ``base_version`` is the version the writer started from (None for a create); ``trunk_version`` and
    ``branch_id`` are the ODK offline-entities fields a device sends for updates made without a
    connection; ``branch_base_version`` is the device's own baseVersion for that branch step.
    """

    __tablename__ = "entity_versions"
    __table_args__ = (
        sa.UniqueConstraint("entity_id", "version"),
        sa.CheckConstraint("conflict IS NULL OR conflict IN ('soft','hard')", name="conflict_known"),
        sa.CheckConstraint("source IN ('submission','api','code')", name="source_known"),
        sa.Index("ix_entity_versions_branch", "entity_id", "branch_id", "branch_base_version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[int] = mapped_column(sa.ForeignKey("entities.id", ondelete="CASCADE"))
    version: Mapped[int]
    base_version: Mapped[int | None]
    trunk_version: Mapped[int | None]
    branch_id: Mapped[str | None] = mapped_column(sa.String(64))
    branch_base_version: Mapped[int | None]
    label: Mapped[str] = mapped_column(sa.String(1024), default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # The properties this version itself set (an update names only some).
    changed: Mapped[list[str]] = mapped_column(JSONType, default=list)
    source: Mapped[str] = mapped_column(sa.String(16), default="api")
    submission_id: Mapped[int | None] = mapped_column(sa.ForeignKey("submissions.id"), index=True)
    submission_version_id: Mapped[int | None] = mapped_column(sa.ForeignKey("submission_versions.id"))
    created_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_by_app_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("app_users.id"))
    conflict: Mapped[str | None] = mapped_column(sa.String(8))
    resolved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EntityBacklog(Base):
    """An offline update held until the branch step before it arrives (nothing is dropped).

    ``op`` is the parsed ``<entity>`` block; once the earlier step is applied (or a person forces it),
    the held update is applied and its row removed.
    """

    __tablename__ = "entity_backlog"
    __table_args__ = (sa.Index("ix_entity_backlog_lookup", "dataset_id", "entity_uuid", "branch_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(sa.ForeignKey("datasets.id"))
    entity_uuid: Mapped[str] = mapped_column(sa.String(64))
    branch_id: Mapped[str | None] = mapped_column(sa.String(64))
    base_version: Mapped[int | None]
    op: Mapped[dict[str, Any]] = mapped_column(JSONType)
    submission_id: Mapped[int | None] = mapped_column(sa.ForeignKey("submissions.id"), index=True)
    submission_version_id: Mapped[int | None] = mapped_column(sa.ForeignKey("submission_versions.id"))
    created_by_app_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("app_users.id"))
    created_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
