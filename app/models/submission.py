"""Submissions: one logical record per edit chain, its versions (verbatim XML), and their files."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, JSONType, UTCDateTime, utcnow

REVIEW_STATES = ("received", "hasIssues", "edited", "approved", "rejected")


class Submission(Base):
    """A record as reviewers and exports see it: the edit chain of one instance.

    ``instance_id`` is the chain's root instanceID (the first version's, as ODK Central names a
    submission). When an edit arrives before the version it replaces, the root is the deprecatedID the
    edit names, although that version has not arrived yet.
    """

    __tablename__ = "submissions"
    __table_args__ = (
        sa.UniqueConstraint("form_id", "instance_id"),
        # The admin's review table (migration 0004): each filter with the default order, id included so
        # deep pages and counts are index-only scans.
        sa.Index("ix_submissions_form_created_id", "form_id", "created_at", "id"),
        # The review table's count and pages over the rows not in the trash, read from the index alone
        # (migration 0024; services/submission_query.py).
        sa.Index(
            "ix_submissions_form_live_created",
            "form_id",
            "created_at",
            "id",
            postgresql_where=sa.text("deleted_at IS NULL"),
            sqlite_where=sa.text("deleted_at IS NULL"),
        ),
        sa.Index("ix_submissions_form_state_created", "form_id", "review_state", "created_at", "id"),
        sa.Index("ix_submissions_form_device_created", "form_id", "device_id", "created_at", "id"),
        sa.Index(
            "ix_submissions_form_app_user_created", "form_id", "submitter_app_user_id", "created_at", "id"
        ),
        # Likely-duplicate lookups (migration 0003): one index probe per submission, never a scan.
        sa.Index("ix_submissions_form_duplicate_key", "form_id", "duplicate_key"),
        # A partner's reads (migration 0017): its rows of one form in the default order.
        sa.Index("ix_submissions_form_org_created", "form_id", "organisation_id", "created_at", "id"),
        # The trash and its 30-day purge (migration 0018): a form's trashed rows, oldest first.
        sa.Index("ix_submissions_form_deleted", "form_id", "deleted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(sa.ForeignKey("forms.id"))
    instance_id: Mapped[str] = mapped_column(sa.String(255))
    current_version_id: Mapped[int | None] = mapped_column(
        # Deferred to the commit: a batch inserts submissions already pointing at versions it inserts
        # next (the two tables reference each other), instead of an UPDATE of every new row.
        sa.ForeignKey(
            "submission_versions.id",
            use_alter=True,
            name="fk_submissions_current_version",
            deferrable=True,
            initially="DEFERRED",
        )
    )
    # The organisation the record was collected for (migration 0017): a partner's people read only
    # their organisation's rows of a shared project (app/services/protection/row_access.py).
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"))
    review_state: Mapped[str] = mapped_column(sa.String(16), default="received")
    instance_name: Mapped[str | None] = mapped_column(sa.String(512))
    # Who sent the first version we received (the submitter as Central reports it).
    submitter_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    submitter_app_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("app_users.id"), index=True)
    device_id: Mapped[str | None] = mapped_column(sa.String(255), index=True)
    user_agent: Mapped[str | None] = mapped_column(sa.String(512))
    is_encrypted: Mapped[bool] = mapped_column(default=False)
    attachments_expected: Mapped[int] = mapped_column(default=0)
    attachments_present: Mapped[int] = mapped_column(default=0)
    # Data-quality flags computed at ingest, each {"code", "message", "details"} saying why it fired;
    # ``flag_codes`` repeats their codes as " code1 code2 " (sorted, space-delimited) so the review
    # table can filter on a flag with an indexed-friendly LIKE on both databases.
    quality_flags: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    flag_codes: Mapped[str] = mapped_column(sa.String(512), default="", server_default="")
    # sha256 of the current version's values of the form's duplicate key fields (None when the form has
    # none configured or a key value is empty): equal keys in one form make a likely duplicate.
    duplicate_key: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)  # server receive time
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # In the trash since then (None: live). Every read path filters on it through
    # ``app.services.protection.record_scope``; the row is purged, blobs and all, after the restore window.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    current_version: Mapped[SubmissionVersion | None] = relationship(
        foreign_keys=[current_version_id], post_update=True
    )


class SubmissionVersion(Base):
    """One version exactly as a device sent it: the XML bytes are the source of truth.

    ``(form_id, instance_id)`` is unique: it is what makes resubmission idempotent, even when two
    copies race on two app servers.
    """

    __tablename__ = "submission_versions"
    __table_args__ = (
        sa.UniqueConstraint("form_id", "instance_id"),
        sa.Index("ix_submission_versions_deprecated", "form_id", "deprecated_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(sa.ForeignKey("submissions.id"), index=True)
    form_id: Mapped[int] = mapped_column(sa.ForeignKey("forms.id"))
    form_version_id: Mapped[int] = mapped_column(sa.ForeignKey("form_versions.id"), index=True)
    instance_id: Mapped[str] = mapped_column(sa.String(255))
    deprecated_id: Mapped[str | None] = mapped_column(sa.String(255))
    xml: Mapped[bytes] = mapped_column(sa.LargeBinary)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    values: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    value_problems: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    instance_name: Mapped[str | None] = mapped_column(sa.String(512))
    # Encrypted submissions: the envelope's fields (the XML above is the envelope, kept verbatim).
    encrypted_key: Mapped[str | None] = mapped_column(sa.Text)
    encrypted_signature: Mapped[str | None] = mapped_column(sa.Text)
    submitter_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    submitter_app_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("app_users.id"))
    device_id: Mapped[str | None] = mapped_column(sa.String(255))
    user_agent: Mapped[str | None] = mapped_column(sa.String(512))
    hub_id: Mapped[int | None] = mapped_column(sa.ForeignKey("hubs.id"), index=True)  # came through
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    attachments: Mapped[list[SubmissionAttachment]] = relationship(
        cascade="all, delete-orphan", order_by="SubmissionAttachment.name"
    )


class SubmissionAttachment(Base):
    """A file a submission version expects (named in its XML) and, once it has arrived, its blob."""

    __tablename__ = "submission_attachments"
    __table_args__ = (sa.UniqueConstraint("submission_version_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_version_id: Mapped[int] = mapped_column(
        sa.ForeignKey("submission_versions.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(sa.String(255))
    blob_sha256: Mapped[str | None] = mapped_column(sa.ForeignKey("blobs.sha256"), index=True)
    is_expected: Mapped[bool] = mapped_column(default=True)
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # One file in the trash since then (migration 0027): hidden from every read, restorable for the
    # same window as a submission, then purged (its blob only when nothing else references it).
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))


class PurgedInstance(Base):
    """The tombstone of a purged record: the sha256 of its form and instanceID, never the ID itself.
    A device that resends the record is answered as if it had been stored (so it stops resending) and
    nothing is stored again (migration 0027)."""

    __tablename__ = "purged_instances"
    __table_args__ = (sa.UniqueConstraint("form_id", "instance_sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(sa.ForeignKey("forms.id", ondelete="CASCADE"))
    instance_sha256: Mapped[str] = mapped_column(sa.String(64))
    reason: Mapped[str] = mapped_column(sa.String(32))
    purged_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
