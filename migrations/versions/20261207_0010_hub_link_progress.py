"""hub_links: files cursor (XML first, files after), measured link rate, sync in progress and last sync

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("hub_links") as batch:
        batch.add_column(sa.Column("files_cursor", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("link_rate", sa.Double(), nullable=True))
        batch.add_column(sa.Column("sync_started_at", app.db.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("sync_seen_at", app.db.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("last_sync_bytes", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("last_sync_seconds", sa.Double(), nullable=True))
    # Links made before: their files went up with the XML, so they are held up to the version cursor.
    op.execute("UPDATE hub_links SET files_cursor = version_cursor")


def downgrade() -> None:
    with op.batch_alter_table("hub_links") as batch:
        for name in (
            "last_sync_seconds",
            "last_sync_bytes",
            "sync_seen_at",
            "sync_started_at",
            "link_rate",
            "files_cursor",
        ):
            batch.drop_column(name)
