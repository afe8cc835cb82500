"""hubs and batch sync

Central side: ``hubs`` (a credential per field hub, scoped to one project) and the foreign key from
``submission_versions.hub_id``. Hub side: ``hub_links`` (where to push, the credential, the cursor).

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hubs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(), nullable=False),
        sa.Column("revoked_at", app.db.UTCDateTime(), nullable=True),
        sa.Column("last_sync_at", app.db.UTCDateTime(), nullable=True),
        sa.Column("batches_received", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_hubs_created_by_id_users")),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], name=op.f("fk_hubs_project_id_projects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hubs")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_hubs_token_hash")),
    )
    with op.batch_alter_table("hubs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hubs_project_id"), ["project_id"], unique=False)
    op.create_table(
        "hub_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("central_url", sa.String(length=512), nullable=False),
        sa.Column("central_project_id", sa.Integer(), nullable=False),
        sa.Column("central_hub_id", sa.Integer(), nullable=True),
        sa.Column("token", sa.String(length=255), nullable=False),
        sa.Column("version_cursor", sa.Integer(), nullable=False),
        sa.Column("files_since", app.db.UTCDateTime(), nullable=True),
        sa.Column("last_sync_at", app.db.UTCDateTime(), nullable=True),
        sa.Column("last_push_count", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_hub_links_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_links")),
        sa.UniqueConstraint("project_id", name=op.f("uq_hub_links_project_id")),
    )
    with op.batch_alter_table("submission_versions", schema=None) as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_submission_versions_hub_id_hubs"), "hubs", ["hub_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("submission_versions", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_submission_versions_hub_id_hubs"), type_="foreignkey")
    op.drop_table("hub_links")
    with op.batch_alter_table("hubs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hubs_project_id"))
    op.drop_table("hubs")
