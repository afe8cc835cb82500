"""partner_reads: a coordinator's raw-row grant, single attachments in the trash, purge tombstones

A coordinator reads no raw row unless a project's owner grants them (``project_roles.rows_granted_at``).
One attachment can be trashed and purged without its submission (``submission_attachments.deleted_at``).
A purged record's form and instanceID are kept as a sha256 (``purged_instances``), so a device that
resends it is answered without the record being stored again. An entity records the organisation
that created it (``entities.organisation_id``: its first version's submission's, else the project's),
so a partner reads only its own entities.

Revision ID: 0027
Revises: 0026
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("project_roles") as batch:
        batch.add_column(sa.Column("rows_granted_at", app.db.UTCDateTime(), nullable=True))
    with op.batch_alter_table("submission_attachments") as batch:
        batch.add_column(sa.Column("deleted_at", app.db.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("deleted_by_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_submission_attachments_deleted_by_id_users", "users", ["deleted_by_id"], ["id"]
        )
    with op.batch_alter_table("entities") as batch:
        batch.add_column(sa.Column("organisation_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_entities_organisation_id_organisations", "organisations", ["organisation_id"], ["id"]
        )
    op.execute(
        "UPDATE entities SET organisation_id = (SELECT submissions.organisation_id FROM entity_versions "
        "JOIN submissions ON submissions.id = entity_versions.submission_id "
        "WHERE entity_versions.entity_id = entities.id AND entity_versions.version = 1)"
    )
    op.execute(
        "UPDATE entities SET organisation_id = (SELECT projects.organisation_id FROM datasets "
        "JOIN projects ON projects.id = datasets.project_id WHERE datasets.id = entities.dataset_id) "
        "WHERE organisation_id IS NULL"
    )
    op.create_table(
        "purged_instances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("form_id", sa.Integer(), nullable=False),
        sa.Column("instance_sha256", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("purged_at", app.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["form_id"], ["forms.id"], name="fk_purged_instances_form_id_forms", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_purged_instances"),
        sa.UniqueConstraint("form_id", "instance_sha256", name="uq_purged_instances_form_id_instance_sha256"),
    )


def downgrade() -> None:
    op.drop_table("purged_instances")
    with op.batch_alter_table("entities") as batch:
        batch.drop_constraint("fk_entities_organisation_id_organisations", type_="foreignkey")
        batch.drop_column("organisation_id")
    with op.batch_alter_table("submission_attachments") as batch:
        batch.drop_constraint("fk_submission_attachments_deleted_by_id_users", type_="foreignkey")
        batch.drop_column("deleted_by_id")
        batch.drop_column("deleted_at")
    with op.batch_alter_table("project_roles") as batch:
        batch.drop_column("rows_granted_at")
