"""Shared monitoring indicators: per-form mappings, canonical records and persons, the unmapped-values
queue, and the indicator facts that SQL aggregates (INDICATORS.md §5, §7).

``IndicatorFact`` is the aggregation table: one row per unit an indicator counts (a record, or a roster
person on a persons basis) holding that unit's numerator, denominator and n contributions, with the
dimension values denormalised onto the row. Every indicator is then a ``SUM ... GROUP BY`` over one
table, the same on SQLite and PostgreSQL, and a review change is one indexed UPDATE of
``review_state``. Two kinds of extra rows keep the sums exact: a breakdown category row (``category``
set) carries only the numerator of that category; a row with ``is_primary`` false repeats a unit under
its second, third... nationality and is read only when grouping by nationality (so a unit with two
nationalities counts in both nationality cells and once in every other total).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, JSONType, UTCDateTime, utcnow

MAPPING_STATUSES = ("confirmed", "superseded")


class IndicatorMapping(Base):
    """One version of the mapping document of a form version; the newest confirmed one is in force."""

    __tablename__ = "indicator_mappings"
    __table_args__ = (
        sa.UniqueConstraint("form_id", "version"),
        sa.Index("ix_indicator_mappings_form_status", "form_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(sa.ForeignKey("forms.id", ondelete="CASCADE"))
    # The form version the document was written against (its questions); None for a shipped mapping.
    form_version_id: Mapped[int | None] = mapped_column(sa.ForeignKey("form_versions.id"))
    version: Mapped[int] = mapped_column()  # 1, 2, ... per form; recorded on every canonical record
    status: Mapped[str] = mapped_column(sa.String(16), default="confirmed")
    source: Mapped[str] = mapped_column(sa.String(16), default="user")  # user | bundled
    document: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CanonicalRecord(Base):
    """One submission in canonical form (INDICATORS.md §1): values keyed ``section.name``, and for each
    the question path (or ``default`` / ``derived:...``) it came from under ``mapping_version``."""

    __tablename__ = "canonical_records"
    __table_args__ = (sa.Index("ix_canonical_records_project_form", "project_id", "form_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        sa.ForeignKey("submissions.id", ondelete="CASCADE"), unique=True
    )
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id"))
    form_id: Mapped[int] = mapped_column(sa.ForeignKey("forms.id"))
    # What was normalised: a newer current version or mapping makes the record stale.
    source_version_id: Mapped[int | None] = mapped_column(sa.ForeignKey("submission_versions.id"))
    mapping_id: Mapped[int | None] = mapped_column(sa.ForeignKey("indicator_mappings.id"))
    mapping_version: Mapped[str] = mapped_column(sa.String(300), default="")
    review_state: Mapped[str] = mapped_column(sa.String(16), default="received")
    # Why the record counts in no indicator (no_consent, no_values), or None.
    excluded_reason: Mapped[str | None] = mapped_column(sa.String(32))
    has_roster: Mapped[bool] = mapped_column(default=False)
    values: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    sources: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    normalised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CanonicalPerson(Base):
    """One roster member of a canonical record, keyed by the bare member field name."""

    __tablename__ = "canonical_persons"
    __table_args__ = (sa.UniqueConstraint("record_id", "person_index"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(sa.ForeignKey("canonical_records.id", ondelete="CASCADE"))
    person_index: Mapped[int] = mapped_column()
    values: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    sources: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)


class UnmappedValue(Base):
    """An answer normalisation could not place: it became the code list's fallback and waits here for
    someone to extend the mapping. Rebuilt with its record, so a fixed mapping empties the queue."""

    __tablename__ = "unmapped_values"
    __table_args__ = (sa.Index("ix_unmapped_values_project_form", "project_id", "form_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(
        sa.ForeignKey("canonical_records.id", ondelete="CASCADE"), index=True
    )
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id"))
    form_id: Mapped[int] = mapped_column(sa.ForeignKey("forms.id"))
    mapping_version: Mapped[str] = mapped_column(sa.String(300), default="")
    field: Mapped[str] = mapped_column(sa.String(128))
    source_path: Mapped[str] = mapped_column(sa.String(512))
    raw_value: Mapped[str] = mapped_column(sa.Text, default="")
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    person_index: Mapped[int | None] = mapped_column()


class IndicatorFact(Base):
    """One unit's contribution to one indicator (module docstring)."""

    __tablename__ = "indicator_facts"
    __table_args__ = (
        sa.Index("ix_indicator_facts_project_indicator", "project_id", "indicator"),
        sa.Index("ix_indicator_facts_submission", "submission_id"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id"))
    form_id: Mapped[int] = mapped_column(sa.ForeignKey("forms.id"))
    submission_id: Mapped[int] = mapped_column(sa.ForeignKey("submissions.id", ondelete="CASCADE"))
    review_state: Mapped[str] = mapped_column(sa.String(16))
    mapping_version: Mapped[str] = mapped_column(sa.String(300))
    indicator: Mapped[str] = mapped_column(sa.String(16))
    breakdown: Mapped[str] = mapped_column(sa.String(64), default="")
    category: Mapped[str] = mapped_column(sa.String(64), default="")
    is_primary: Mapped[bool] = mapped_column(default=True)
    person_index: Mapped[int] = mapped_column(default=-1)
    num: Mapped[float] = mapped_column(sa.Float, default=0.0)
    den: Mapped[float] = mapped_column(sa.Float, default=0.0)
    n: Mapped[int] = mapped_column(default=0)
    dk: Mapped[int] = mapped_column(default=0)
    # The numerator field's own value (for medians), when the unit is in the numerator.
    value: Mapped[float | None] = mapped_column(sa.Float)
    period: Mapped[str] = mapped_column(sa.String(64))
    country: Mapped[str] = mapped_column(sa.String(64))
    adm1: Mapped[str] = mapped_column(sa.String(64))
    adm2: Mapped[str] = mapped_column(sa.String(64))
    site: Mapped[str] = mapped_column(sa.String(64))
    population_type: Mapped[str] = mapped_column(sa.String(64))
    route_stage: Mapped[str] = mapped_column(sa.String(64))
    nationality: Mapped[str] = mapped_column(sa.String(64))
    sex_gender: Mapped[str] = mapped_column(sa.String(64))
    age_band: Mapped[str] = mapped_column(sa.String(64))
    disability: Mapped[str] = mapped_column(sa.String(64))
    # The collection day and ISO week beside the month (``period``): daily and weekly series.
    day: Mapped[str] = mapped_column(sa.String(10), default="unknown", server_default="unknown")
    week: Mapped[str] = mapped_column(sa.String(10), default="unknown", server_default="unknown")
    # The indicator's own disaggregations (catalogue extras) in catalogue order, and whether the row
    # carries the first value of its multi-valued one (see app.indicators.facts).
    extra1: Mapped[str] = mapped_column(sa.String(64), default="", server_default="")
    extra2: Mapped[str] = mapped_column(sa.String(64), default="", server_default="")
    extra3: Mapped[str] = mapped_column(sa.String(64), default="", server_default="")
    extra_primary: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    # The record's survey weight (1 when its form declares none): weighted outputs sum num and den times it.
    weight: Mapped[float] = mapped_column(sa.Float, default=1.0, server_default="1")


class IndicatorRefreshMark(Base):
    """How far a project's canonical rows have been brought up to date: the newest submission version,
    review event and mapping seen by the last refresh. A read whose marks are unchanged skips the
    staleness query; one with only new review events restates just those submissions."""

    __tablename__ = "indicator_refresh_marks"

    project_id: Mapped[int] = mapped_column(
        sa.ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    version_mark: Mapped[int] = mapped_column(default=0)
    review_mark: Mapped[int] = mapped_column(default=0)
    mapping_mark: Mapped[int] = mapped_column(default=0)
    refreshed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
