"""Background work: the durable job queue, webhooks and their deliveries, export runs.

A ``Job`` is a row in the same database as the write that causes it, inserted in that write's
transaction: when the write commits the job exists, when it rolls back it never did. A worker claims
a job by setting it ``running`` with a lease (``locked_until``) that its heartbeat extends; a worker
killed with SIGKILL stops extending it, and once the lease has run out any worker puts the job back in
the queue. ``dedupe_key``: at most one *queued* job per key (a partial unique index), so a burst of
writes to one project queues one indicator refresh, not thousands; one may be queued while another
with the same key runs, so a write made during a run is not missed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, JSONType, UTCDateTime, utcnow

JOB_STATUSES = ("queued", "running", "done", "failed")
QUEUED = sa.text("status = 'queued'")


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        sa.Index("ix_jobs_status_run_after", "status", "run_after"),
        sa.Index(
            "uq_jobs_dedupe_key_queued",
            "dedupe_key",
            unique=True,
            postgresql_where=QUEUED,
            sqlite_where=QUEUED,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(64))
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(sa.String(16), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=8)
    run_after: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_by: Mapped[str | None] = mapped_column(sa.String(120))
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Webhook(Base):
    """A project's subscriber: new, edited and reviewed submissions are POSTed to ``url`` as JSON,
    signed with HMAC-SHA256 of the body under ``secret``."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(sa.String(2000))
    secret: Mapped[str] = mapped_column(sa.String(200))
    events: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # The newest audit event id dispatch has looked at (see services/webhooks.dispatch).
    cursor: Mapped[int] = mapped_column(default=0)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(Base):
    """One event for one webhook: delivered, still being retried, or dead (the dead-letter list)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (sa.UniqueConstraint("webhook_id", "audit_event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(sa.ForeignKey("webhooks.id", ondelete="CASCADE"), index=True)
    audit_event_id: Mapped[int] = mapped_column(sa.ForeignKey("audit_events.id"))
    event: Mapped[str] = mapped_column(sa.String(64))
    body: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")  # pending | delivered | dead
    attempts: Mapped[int] = mapped_column(default=0)
    last_status_code: Mapped[int | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ExportRun(Base):
    """A submission export made by a worker: its options, progress and the finished file (a blob)."""

    __tablename__ = "export_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    form_id: Mapped[int] = mapped_column(sa.ForeignKey("forms.id", ondelete="CASCADE"))
    fmt: Mapped[str] = mapped_column(sa.String(16))
    options: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(sa.String(16), default="queued")  # queued|running|done|failed
    progress: Mapped[float] = mapped_column(sa.Float, default=0.0)
    rows: Mapped[int | None] = mapped_column()
    blob_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    size: Mapped[int | None] = mapped_column(sa.BigInteger)
    filename: Mapped[str] = mapped_column(sa.String(300), default="")
    content_type: Mapped[str] = mapped_column(sa.String(120), default="application/octet-stream")
    error: Mapped[str | None] = mapped_column(sa.Text)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
