"""data-quality settings and flags

Placeholder in the migration chain, reserved so work on several issues can land in any order with a
single head. Filled by the change that needs it.

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


def downgrade() -> None:
    with op.batch_alter_table("submissions") as batch:
        batch.drop_column("flag_codes")
