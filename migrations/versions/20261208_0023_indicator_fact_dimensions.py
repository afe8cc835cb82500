"""Indicator facts: collection day and ISO week, an indicator's own disaggregations, survey weight

``indicator_facts`` gains ``day`` and ``week`` (daily and weekly series beside the month) and three slot
columns ``extra1..3`` with ``extra_primary`` for the disaggregations an indicator declares beyond the
defaults (direction, transport modes, legal status), and ``weight`` (a record's survey weight, 1 when
its form has none). Existing facts cannot be filled in SQL (the values
come from the canonical records through the catalogue), so every canonical record is marked stale
(its source version forgotten) and the refresh marks reset: the next refresh renormalises them.

Revision ID: 0023
Revises: 0020
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("indicator_facts") as batch:
        batch.add_column(sa.Column("day", sa.String(length=10), server_default="unknown", nullable=False))
        batch.add_column(sa.Column("week", sa.String(length=10), server_default="unknown", nullable=False))
        for name in ("extra1", "extra2", "extra3"):
            batch.add_column(sa.Column(name, sa.String(length=64), server_default="", nullable=False))
        batch.add_column(sa.Column("extra_primary", sa.Boolean(), server_default=sa.true(), nullable=False))
        batch.add_column(sa.Column("weight", sa.Float(), server_default="1", nullable=False))
    op.execute("UPDATE canonical_records SET source_version_id = NULL")
    op.execute("UPDATE indicator_refresh_marks SET version_mark = -1")


def downgrade() -> None:
    with op.batch_alter_table("indicator_facts") as batch:
        for name in ("weight", "extra_primary", "extra3", "extra2", "extra1", "week", "day"):
            batch.drop_column(name)
