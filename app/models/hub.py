"""Field hubs: offline offices running their own Ruta that sync up to a central one.

Two sides of one link. On the central Ruta a ``Hub`` is a credential issued for one project (only its
hash is kept; revocable) plus what it has sent. On the hub's own Ruta a ``HubLink`` says where the
central Ruta is, holds the credential it was given, and the durable cursor of the push.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow


class Hub(Base):
    """Central side: a field hub allowed to push submissions into one project and pull its forms."""

    __tablename__ = "hubs"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(255))
    # The organisation the hub's submissions are collected for (migration 0017), as for app users.
    organisation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisations.id"))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    batches_received: Mapped[int] = mapped_column(default=0)


class HubLink(Base):
    """Hub side: this Ruta's project pushes to ``central_url`` project ``central_project_id``.

    The credential is kept in clear because the hub must send it; it only ever opens one project's
    batch and form endpoints on the central side, which can revoke it. ``version_cursor`` is the last
    local submission version the central side acknowledged: a sync that drops resumes after it.
    ``files_since`` is when the last complete sync started: files that arrived at the hub after it for
    versions already pushed (Collect splits big submissions) are pushed again with their XML.

    A sync sends the XML first and the files after (data before photos on a slow link):
    ``files_cursor`` (<= ``version_cursor``) is the last version whose files the central side holds.
    ``link_rate`` is the link's measured rate (bytes/s); ``sync_started_at``/``sync_seen_at`` say a sync
    runs now (``sync_seen_at`` moves at every acknowledged batch); ``last_sync_bytes`` and
    ``last_sync_seconds`` describe the last complete sync.
    """

    __tablename__ = "hub_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id"), unique=True)
    central_url: Mapped[str] = mapped_column(sa.String(512))
    central_project_id: Mapped[int]
    central_hub_id: Mapped[int | None]
    token: Mapped[str] = mapped_column(sa.String(255))
    version_cursor: Mapped[int] = mapped_column(default=0)
    files_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_push_count: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    files_cursor: Mapped[int] = mapped_column(default=0)
    link_rate: Mapped[float | None]
    sync_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sync_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_sync_bytes: Mapped[int | None] = mapped_column(sa.BigInteger)
    last_sync_seconds: Mapped[float | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
