"""Response monitoring (5W activity reports and their uploads) and plan figures (people in need, targets)

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
COUNTS = (
    "in_destination",
    "in_transit",
    "host_community",
    "pendular",
    "colombian_returnees",
    "girls",
    "boys",
    "women",
    "men",
    "other_under_18",
    "other_over_18",
)


def upgrade() -> None:
    op.create_table(
        "activity_uploads",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "project_id", sa.Integer(), sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("filename", sa.String(255), nullable=True),
        sa.Column("rows_total", sa.Integer(), nullable=False),
        sa.Column("rows_with_errors", sa.Integer(), nullable=False),
        sa.Column("rows_imported", sa.Integer(), nullable=False),
        sa.Column("report", JSON, nullable=False),
        sa.Column("created_by_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_activity_uploads_project_id", "activity_uploads", ["project_id"])
    op.create_table(
        "activity_reports",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "project_id", sa.Integer(), sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "upload_id",
            sa.Integer(),
            sa.ForeignKey("activity_uploads.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("row_number", sa.Integer(), nullable=True),
        sa.Column("organisation", sa.String(255), nullable=False),
        sa.Column("implementing_partner", sa.String(255), nullable=True),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("country", sa.String(3), nullable=False),
        sa.Column("admin1", sa.String(32), nullable=True),
        sa.Column("admin2", sa.String(32), nullable=True),
        sa.Column("site", sa.String(64), nullable=True),
        sa.Column("sector", sa.String(64), nullable=False),
        sa.Column("indicator", sa.String(64), nullable=False),
        sa.Column("activity", sa.String(500), nullable=True),
        sa.Column("direct_assistance", sa.Boolean(), nullable=False),
        sa.Column("cva", sa.Boolean(), nullable=False),
        sa.Column("cva_value_usd", sa.Float(), nullable=True),
        sa.Column("delivery_mechanism", sa.String(64), nullable=True),
        sa.Column("output_quantity", sa.Integer(), nullable=True),
        sa.Column("total_beneficiaries", sa.Integer(), nullable=False),
        sa.Column("new_beneficiaries", sa.Integer(), nullable=False),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS],
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("findings", JSON, nullable=False),
        sa.Column("accepted_reason", sa.String(1000), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_by_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_activity_reports_project_month", "activity_reports", ["project_id", "month"])
    op.create_index("ix_activity_reports_project_status", "activity_reports", ["project_id", "status"])
    op.create_table(
        "plan_figures",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "project_id", sa.Integer(), sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("sector", sa.String(64), nullable=False),
        sa.Column("country", sa.String(3), nullable=False),
        sa.Column("admin1", sa.String(32), nullable=True),
        sa.Column("admin2", sa.String(32), nullable=True),
        sa.Column("population_type", sa.String(32), nullable=False),
        sa.Column("age_gender", sa.String(32), nullable=False),
        sa.Column("people_in_need", sa.Integer(), nullable=False),
        sa.Column("target", sa.Integer(), nullable=False),
    )
    op.create_index("ix_plan_figures_project_year", "plan_figures", ["project_id", "year"])


def downgrade() -> None:
    op.drop_index("ix_plan_figures_project_year", table_name="plan_figures")
    op.drop_table("plan_figures")
    op.drop_index("ix_activity_reports_project_status", table_name="activity_reports")
    op.drop_index("ix_activity_reports_project_month", table_name="activity_reports")
    op.drop_table("activity_reports")
    op.drop_index("ix_activity_uploads_project_id", table_name="activity_uploads")
    op.drop_table("activity_uploads")
