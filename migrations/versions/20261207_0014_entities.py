"""datasets, entities, entity_versions, entity_backlog (issue 19: ODK entity lists)

Every version of an entity is a row of ``entity_versions`` (never overwritten); ``entity_backlog`` holds an
offline update whose earlier branch step has not arrived yet. ``datasets.revision`` counts changes, so a
list's manifest hash and ETag change only when the list does.

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db
from app.db import JSONType

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("properties", JSONType, nullable=False),
        sa.Column("approval_required", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("owner_only", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("revision", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_datasets_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_datasets")),
        sa.UniqueConstraint("project_id", "name", name=op.f("uq_datasets_project_id_name")),
    )
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_datasets_project_id"), ["project_id"], unique=False)

    op.create_table(
        "entities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=1024), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("data", JSONType, nullable=False),
        sa.Column("deleted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("deleted_at", app.db.UTCDateTime(), nullable=True),
        sa.Column("conflict", sa.String(length=8), nullable=True),
        sa.Column("creator_user_id", sa.Integer(), nullable=True),
        sa.Column("creator_app_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "conflict IS NULL OR conflict IN ('soft','hard')", name=op.f("ck_entities_conflict_known")
        ),
        sa.ForeignKeyConstraint(
            ["creator_app_user_id"], ["app_users.id"], name=op.f("fk_entities_creator_app_user_id_app_users")
        ),
        sa.ForeignKeyConstraint(
            ["creator_user_id"], ["users.id"], name=op.f("fk_entities_creator_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"], name=op.f("fk_entities_dataset_id_datasets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entities")),
        sa.UniqueConstraint("dataset_id", "uuid", name=op.f("uq_entities_dataset_id_uuid")),
    )
    with op.batch_alter_table("entities", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_entities_creator_app_user_id"), ["creator_app_user_id"], unique=False
        )
        batch_op.create_index("ix_entities_dataset_deleted_id", ["dataset_id", "deleted", "id"], unique=False)

    op.create_table(
        "entity_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("base_version", sa.Integer(), nullable=True),
        sa.Column("trunk_version", sa.Integer(), nullable=True),
        sa.Column("branch_id", sa.String(length=64), nullable=True),
        sa.Column("branch_base_version", sa.Integer(), nullable=True),
        sa.Column("label", sa.String(length=1024), nullable=False),
        sa.Column("data", JSONType, nullable=False),
        sa.Column("changed", JSONType, nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=True),
        sa.Column("submission_version_id", sa.Integer(), nullable=True),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_by_app_user_id", sa.Integer(), nullable=True),
        sa.Column("conflict", sa.String(length=8), nullable=True),
        sa.Column("resolved_by_id", sa.Integer(), nullable=True),
        sa.Column("resolved_at", app.db.UTCDateTime(), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "conflict IS NULL OR conflict IN ('soft','hard')", name=op.f("ck_entity_versions_conflict_known")
        ),
        sa.CheckConstraint(
            "source IN ('submission','api','code')", name=op.f("ck_entity_versions_source_known")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_app_user_id"],
            ["app_users.id"],
            name=op.f("fk_entity_versions_created_by_app_user_id_app_users"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"], ["users.id"], name=op.f("fk_entity_versions_created_by_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["entity_id"],
            ["entities.id"],
            name=op.f("fk_entity_versions_entity_id_entities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by_id"], ["users.id"], name=op.f("fk_entity_versions_resolved_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"], ["submissions.id"], name=op.f("fk_entity_versions_submission_id_submissions")
        ),
        sa.ForeignKeyConstraint(
            ["submission_version_id"],
            ["submission_versions.id"],
            name=op.f("fk_entity_versions_submission_version_id_submission_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entity_versions")),
        sa.UniqueConstraint("entity_id", "version", name=op.f("uq_entity_versions_entity_id_version")),
    )
    with op.batch_alter_table("entity_versions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_entity_versions_branch", ["entity_id", "branch_id", "branch_base_version"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_entity_versions_submission_id"), ["submission_id"], unique=False)

    op.create_table(
        "entity_backlog",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("entity_uuid", sa.String(length=64), nullable=False),
        sa.Column("branch_id", sa.String(length=64), nullable=True),
        sa.Column("base_version", sa.Integer(), nullable=True),
        sa.Column("op", JSONType, nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=True),
        sa.Column("submission_version_id", sa.Integer(), nullable=True),
        sa.Column("created_by_app_user_id", sa.Integer(), nullable=True),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_app_user_id"],
            ["app_users.id"],
            name=op.f("fk_entity_backlog_created_by_app_user_id_app_users"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"], ["users.id"], name=op.f("fk_entity_backlog_created_by_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"], name=op.f("fk_entity_backlog_dataset_id_datasets")
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"], ["submissions.id"], name=op.f("fk_entity_backlog_submission_id_submissions")
        ),
        sa.ForeignKeyConstraint(
            ["submission_version_id"],
            ["submission_versions.id"],
            name=op.f("fk_entity_backlog_submission_version_id_submission_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entity_backlog")),
    )
    with op.batch_alter_table("entity_backlog", schema=None) as batch_op:
        batch_op.create_index(
            "ix_entity_backlog_lookup", ["dataset_id", "entity_uuid", "branch_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_entity_backlog_submission_id"), ["submission_id"], unique=False)


def downgrade() -> None:
    op.drop_table("entity_backlog")
    op.drop_table("entity_versions")
    op.drop_table("entities")
    op.drop_table("datasets")
