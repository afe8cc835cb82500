"""exports and sensitive-data grants

``project_roles.may_see_sensitive``: a per-assignment grant to see sensitive fields (an analyst who
must work with names, say), set by a project manager; roles that see them anyway keep doing so.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("project_roles") as batch:
        batch.add_column(
            sa.Column("may_see_sensitive", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("project_roles") as batch:
        batch.drop_column("may_see_sensitive")
