"""Response monitoring (the R4V 5W) and plan figures (INDICATORS.md §9).

``ActivityReport`` is the 5W fact: one row per activity × month × place × organisation, with the month's
total beneficiaries, the new ones (reached for the first time this year in the sector), and the new ones
split two ways, by R4V's five population types and by the six age/gender cells (each split sums to the
new beneficiaries for direct assistance). QA findings are stored on the row; a row with an error finding is
held out of every output until it is fixed or accepted with a reason.

``PlanFigure`` holds people in need and targets per sector × place × population type × age/gender × year,
the HNO/RMRP planning figures the gap is measured against.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, JSONType, UTCDateTime, utcnow

# The count columns below are those of ``app/response/columns.py`` (POPULATION_TYPES, AGE_GENDER), which
# owns their names; status is valid, error (held out of the outputs) or accepted.


class ActivityUpload(Base):
    """One 5W workbook or JSON batch, with its row-by-row findings for the error report."""

    __tablename__ = "activity_uploads"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(sa.String(16))  # import | api | form
    filename: Mapped[str | None] = mapped_column(sa.String(255))
    rows_total: Mapped[int] = mapped_column(default=0)
    rows_with_errors: Mapped[int] = mapped_column(default=0)
    rows_imported: Mapped[int] = mapped_column(default=0)
    # [{"row": n, "values": {...}, "findings": [...]}] for every row read, kept for the error workbook.
    report: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ActivityReport(Base):
    __tablename__ = "activity_reports"
    __table_args__ = (
        sa.Index("ix_activity_reports_project_month", "project_id", "month"),
        sa.Index("ix_activity_reports_project_status", "project_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"))
    upload_id: Mapped[int | None] = mapped_column(sa.ForeignKey("activity_uploads.id", ondelete="SET NULL"))
    row_number: Mapped[int | None] = mapped_column()
    organisation: Mapped[str] = mapped_column(sa.String(255))  # the appealing organisation
    implementing_partner: Mapped[str | None] = mapped_column(sa.String(255))
    month: Mapped[date] = mapped_column(sa.Date)  # the first day of the reported month
    country: Mapped[str] = mapped_column(sa.String(3))
    admin1: Mapped[str | None] = mapped_column(sa.String(32))
    admin2: Mapped[str | None] = mapped_column(sa.String(32))
    site: Mapped[str | None] = mapped_column(sa.String(64))
    sector: Mapped[str] = mapped_column(sa.String(64))
    indicator: Mapped[str] = mapped_column(sa.String(64))
    activity: Mapped[str | None] = mapped_column(sa.String(500))
    direct_assistance: Mapped[bool] = mapped_column(default=True)
    cva: Mapped[bool] = mapped_column(default=False)
    cva_value_usd: Mapped[float | None] = mapped_column(sa.Float)
    delivery_mechanism: Mapped[str | None] = mapped_column(sa.String(64))
    output_quantity: Mapped[int | None] = mapped_column()
    total_beneficiaries: Mapped[int] = mapped_column(default=0)
    new_beneficiaries: Mapped[int] = mapped_column(default=0)
    in_destination: Mapped[int] = mapped_column(default=0)
    in_transit: Mapped[int] = mapped_column(default=0)
    host_community: Mapped[int] = mapped_column(default=0)
    pendular: Mapped[int] = mapped_column(default=0)
    colombian_returnees: Mapped[int] = mapped_column(default=0)
    girls: Mapped[int] = mapped_column(default=0)
    boys: Mapped[int] = mapped_column(default=0)
    women: Mapped[int] = mapped_column(default=0)
    men: Mapped[int] = mapped_column(default=0)
    other_under_18: Mapped[int] = mapped_column(default=0)
    other_over_18: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(sa.String(16), default="valid")
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    accepted_reason: Mapped[str | None] = mapped_column(sa.String(1000))
    source: Mapped[str] = mapped_column(sa.String(16))  # import | api | form
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PlanFigure(Base):
    """People in need and target for one sector × place × population type × age/gender cell of a year."""

    __tablename__ = "plan_figures"
    __table_args__ = (sa.Index("ix_plan_figures_project_year", "project_id", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"))
    year: Mapped[int] = mapped_column()
    sector: Mapped[str] = mapped_column(sa.String(64))
    country: Mapped[str] = mapped_column(sa.String(3))
    admin1: Mapped[str | None] = mapped_column(sa.String(32))
    admin2: Mapped[str | None] = mapped_column(sa.String(32))
    population_type: Mapped[str] = mapped_column(sa.String(32))
    age_gender: Mapped[str] = mapped_column(sa.String(32))
    people_in_need: Mapped[int] = mapped_column(default=0)
    target: Mapped[int] = mapped_column(default=0)


# The sex × age-band cells of a flow count (forms' ``counts``: n_<sex>_<band>); ``x`` is any age.
FLOW_CELLS = (
    "f_0_4",
    "f_5_11",
    "f_12_17",
    "f_18_59",
    "f_60_plus",
    "m_0_4",
    "m_5_11",
    "m_12_17",
    "m_18_59",
    "m_60_plus",
    "x",
)


class FlowFact(Base):
    """One travel group counted passing a flow monitoring point (one flow-registry submission), at the
    grain of INDICATORS.md §9: site × day × direction × nationality × group type × transport × next and
    final destination, with the people by sex and age band. Written by the indicator refresh from the same
    normalised record as the indicator facts, so FLW-01/02 and the flow outputs never disagree; the site is
    the registry code, its P-codes are resolved when read (``app.services.response.flows.site_places``)."""

    __tablename__ = "flow_facts"
    __table_args__ = (
        sa.Index("ix_flow_facts_project_day", "project_id", "day"),
        sa.Index("ix_flow_facts_submission", "submission_id"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"))
    form_id: Mapped[int] = mapped_column(sa.ForeignKey("forms.id", ondelete="CASCADE"))
    submission_id: Mapped[int] = mapped_column(sa.ForeignKey("submissions.id", ondelete="CASCADE"))
    review_state: Mapped[str] = mapped_column(sa.String(16))
    site: Mapped[str] = mapped_column(sa.String(64))
    country: Mapped[str] = mapped_column(sa.String(64))
    day: Mapped[date] = mapped_column(sa.Date)
    week: Mapped[str] = mapped_column(sa.String(8))  # ISO week, 2026-W49
    month: Mapped[str] = mapped_column(sa.String(7))  # 2026-12
    direction: Mapped[str] = mapped_column(sa.String(64))
    nationality: Mapped[str] = mapped_column(sa.String(64))
    group_type: Mapped[str] = mapped_column(sa.String(64))
    transport: Mapped[str] = mapped_column(sa.String(64))  # the first mode listed; all: FlowFactTransport
    next_destination: Mapped[str] = mapped_column(sa.String(64))  # the next country on the route
    destination: Mapped[str] = mapped_column(sa.String(64))  # the final destination
    observed_hours: Mapped[float | None] = mapped_column(sa.Float)
    people: Mapped[int] = mapped_column(default=0)
    children: Mapped[int] = mapped_column(default=0)
    f_0_4: Mapped[int] = mapped_column(default=0)
    f_5_11: Mapped[int] = mapped_column(default=0)
    f_12_17: Mapped[int] = mapped_column(default=0)
    f_18_59: Mapped[int] = mapped_column(default=0)
    f_60_plus: Mapped[int] = mapped_column(default=0)
    m_0_4: Mapped[int] = mapped_column(default=0)
    m_5_11: Mapped[int] = mapped_column(default=0)
    m_12_17: Mapped[int] = mapped_column(default=0)
    m_18_59: Mapped[int] = mapped_column(default=0)
    m_60_plus: Mapped[int] = mapped_column(default=0)
    x: Mapped[int] = mapped_column(default=0)


class FlowFactTransport(Base):
    """One transport mode of a flow fact's travel group: the form's transport question is multi-select, so
    a group that walked and took a bus has two rows here and one flow fact. ``by=transport`` counts the
    group under each of its modes (that split does not sum to the total); every other output reads the
    flow facts alone and counts the group once. A group with no mode answered has one row, ``unknown``."""

    __tablename__ = "flow_fact_transports"

    fact_id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        sa.ForeignKey("flow_facts.id", ondelete="CASCADE"),
        primary_key=True,
    )
    transport: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
