"""data-quality settings and flags

Flags are computed at ingest (app/services/quality): ``flag_codes`` lets the review table filter on a flag,
``duplicate_key`` (indexed with the form) makes the likely-duplicate check one index probe. The reasons
live in ``submissions.quality_flags`` (initial schema); per-form settings in ``forms.settings["quality"]``.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("flag_codes", sa.String(512), server_default="", nullable=False))
        batch.add_column(sa.Column("duplicate_key", sa.String(64), nullable=True))
        batch.create_index("ix_submissions_form_duplicate_key", ["form_id", "duplicate_key"])


def downgrade() -> None:
    with op.batch_alter_table("submissions") as batch:
        batch.drop_index("ix_submissions_form_duplicate_key")
        batch.drop_column("duplicate_key")
        batch.drop_column("flag_codes")
