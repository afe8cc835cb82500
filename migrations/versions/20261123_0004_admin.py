"""admin web interface: indexes for the review table

The review table filters one form's submissions by state, device or enumerator and orders them by
receive time, newest first, with the id as tie-breaker; these indexes serve each of those with the
order included (and the id, so deep pages and counts can be index-only scans). On PostgreSQL the
free-text search (substring of instance name, instance ID, device ID) uses trigram indexes when the
pg_trgm extension can be created; without it the search still works, by a scan.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "ix_submissions_form_created_id": ["form_id", "created_at", "id"],
    "ix_submissions_form_state_created": ["form_id", "review_state", "created_at", "id"],
    "ix_submissions_form_device_created": ["form_id", "device_id", "created_at", "id"],
    "ix_submissions_form_app_user_created": ["form_id", "submitter_app_user_id", "created_at", "id"],
}
TRIGRAM_COLUMNS = ("instance_name", "instance_id", "device_id")


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "submissions", columns)
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    # The extension may be unavailable or need rights the app's role lacks: then search scans.
    savepoint = bind.begin_nested()
    try:
        bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        savepoint.commit()
    except sa.exc.DBAPIError:
        savepoint.rollback()
        return
    for column in TRIGRAM_COLUMNS:
        op.execute(
            f"CREATE INDEX IF NOT EXISTS ix_submissions_{column}_trgm ON submissions "
            f"USING gin ({column} gin_trgm_ops)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for column in TRIGRAM_COLUMNS:
            op.execute(f"DROP INDEX IF EXISTS ix_submissions_{column}_trgm")
    for name in INDEXES:
        op.drop_index(name, table_name="submissions")
