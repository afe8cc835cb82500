"""api_sessions.kind and .data: the admin's login becomes a server-side session

The admin's login was a signed cookie holding the user id: logging out only told the browser to forget
it, so a copied cookie kept working until it expired, and a password change ended nothing. A login is
now a row (kind 'web') whose random token is all the cookie holds; deleting the row ends it everywhere.

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_sessions") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=8), server_default="bearer", nullable=False))
        batch.add_column(
            sa.Column(
                "data",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch.create_check_constraint("kind_known", "kind IN ('bearer','web')")


def downgrade() -> None:
    with op.batch_alter_table("api_sessions") as batch:
        batch.drop_constraint("kind_known", type_="check")
        batch.drop_column("data")
        batch.drop_column("kind")
