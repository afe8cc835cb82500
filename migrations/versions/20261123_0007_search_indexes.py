"""search indexes on lower(column), so equality lookups never use them; two redundant indexes dropped

Migration 0004's trigram indexes were on the bare columns. pg_trgm (1.6, PostgreSQL 14+) also serves
``=`` and ``= ANY``, and the planner then sometimes prefers a trigram bitmap scan over the unique
(form_id, instance_id) btree for an instanceID lookup: a batch of 500 instanceIDs took seconds instead
of a millisecond. Indexing ``lower(column)`` keeps the free-text search (``lower(col) LIKE '%term%'``)
fast and leaves equality on the bare column to the btrees.

(form_id, created_at) and (form_id, review_state) are prefixes of 0004's review-table indexes, which
serve every query they served; each index is one more entry to write per inserted submission.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("instance_name", "instance_id", "device_id")
REDUNDANT = {
    "ix_submissions_form_created": ["form_id", "created_at"],
    "ix_submissions_form_review": ["form_id", "review_state"],
}


def _has_trgm() -> bool:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return False
    return bind.execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")).first() is not None


def upgrade() -> None:
    for name in REDUNDANT:
        op.drop_index(name, table_name="submissions")
    if not _has_trgm():
        return
    for column in COLUMNS:
        op.execute(f"DROP INDEX IF EXISTS ix_submissions_{column}_trgm")
        op.execute(
            f"CREATE INDEX IF NOT EXISTS ix_submissions_{column}_lower_trgm ON submissions "
            f"USING gin (lower({column}) gin_trgm_ops)"
        )


def downgrade() -> None:
    for name, columns in REDUNDANT.items():
        op.create_index(name, "submissions", columns)
    if not _has_trgm():
        return
    for column in COLUMNS:
        op.execute(f"DROP INDEX IF EXISTS ix_submissions_{column}_lower_trgm")
        op.execute(
            f"CREATE INDEX IF NOT EXISTS ix_submissions_{column}_trgm ON submissions "
            f"USING gin ({column} gin_trgm_ops)"
        )
