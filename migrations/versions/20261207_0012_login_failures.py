"""login_failures: wrong passwords per client address, counted by every worker and app server

The login limits (RUTA_LOGIN_RATE_LIMIT) were counted in each worker's memory, so N workers allowed N
times the limit, and POST /v1/sessions and HTTP Basic were not limited at all. Without Redis the count
lives here.

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_key", sa.String(length=64), nullable=False),
        sa.Column("failed_at", app.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    op.create_index(
        "ix_login_failures_client_key_failed_at", "login_failures", ["client_key", "failed_at"], unique=False
    )
    op.create_index(op.f("ix_login_failures_failed_at"), "login_failures", ["failed_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_login_failures_failed_at"), table_name="login_failures")
    op.drop_index("ix_login_failures_client_key_failed_at", table_name="login_failures")
    op.drop_table("login_failures")
