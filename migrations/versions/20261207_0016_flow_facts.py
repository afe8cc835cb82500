"""flow_facts: travel groups counted at flow monitoring points (issue 20, item 1)

One row per flow-registry submission, written by the indicator refresh beside the indicator facts: the
site code, day/week/month, direction, nationality, group type, transport, next and final destination,
hours observed and the people by sex and age band. The flow outputs (movements, groups, daily averages, splits) are sums
over it.

Revision ID: 0016
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CELLS = (
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


def upgrade() -> None:
    op.create_table(
        "flow_facts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column(
            "project_id", sa.Integer(), sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("form_id", sa.Integer(), sa.ForeignKey("forms.id", ondelete="CASCADE"), nullable=False),
        sa.Column(
            "submission_id",
            sa.Integer(),
            sa.ForeignKey("submissions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("review_state", sa.String(16), nullable=False),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("country", sa.String(64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("week", sa.String(8), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("direction", sa.String(64), nullable=False),
        sa.Column("nationality", sa.String(64), nullable=False),
        sa.Column("group_type", sa.String(64), nullable=False),
        sa.Column("transport", sa.String(64), nullable=False),
        sa.Column("next_destination", sa.String(64), nullable=False),
        sa.Column("destination", sa.String(64), nullable=False),
        sa.Column("observed_hours", sa.Float(), nullable=True),
        sa.Column("people", sa.Integer(), nullable=False),
        sa.Column("children", sa.Integer(), nullable=False),
        *(sa.Column(cell, sa.Integer(), nullable=False) for cell in CELLS),
    )
    op.create_index("ix_flow_facts_project_day", "flow_facts", ["project_id", "day"])
    op.create_index("ix_flow_facts_submission", "flow_facts", ["submission_id"])


def downgrade() -> None:
    op.drop_index("ix_flow_facts_submission", table_name="flow_facts")
    op.drop_index("ix_flow_facts_project_day", table_name="flow_facts")
    op.drop_table("flow_facts")
