"""Partner rows: submissions.organisation_id, project_partners, the coordinator role

A project can be shared with partner organisations; every submission records the organisation it was
collected for, and a partner's people read only their organisation's rows. Existing rows were all
collected for their project's organisation, and so were existing device and hub credentials.

Revision ID: 0017
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_ROLES = "role IN ('manager','supervisor','analyst','enumerator')"
NEW_ROLES = "role IN ('manager','supervisor','analyst','enumerator','coordinator')"


# The credentials' organisation: their project's (fixed statements, one per table).
BACKFILL = {
    "app_users": "UPDATE app_users SET organisation_id = (SELECT projects.organisation_id FROM projects "
    "WHERE projects.id = app_users.project_id)",
    "hubs": "UPDATE hubs SET organisation_id = (SELECT projects.organisation_id FROM projects "
    "WHERE projects.id = hubs.project_id)",
}


def upgrade() -> None:
    op.create_table(
        "project_partners",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_project_partners_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_project_partners_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_project_partners_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project_partners")),
        sa.UniqueConstraint(
            "project_id", "organisation_id", name=op.f("uq_project_partners_project_id_organisation_id")
        ),
    )
    op.create_index(
        op.f("ix_project_partners_organisation_id"), "project_partners", ["organisation_id"], unique=False
    )
    op.create_index(op.f("ix_project_partners_project_id"), "project_partners", ["project_id"], unique=False)

    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("organisation_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE submissions SET organisation_id = (SELECT projects.organisation_id FROM forms "
        "JOIN projects ON projects.id = forms.project_id WHERE forms.id = submissions.form_id)"
    )
    with op.batch_alter_table("submissions") as batch:
        batch.alter_column("organisation_id", existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key(
            op.f("fk_submissions_organisation_id_organisations"), "organisations", ["organisation_id"], ["id"]
        )
        batch.create_index(
            "ix_submissions_form_org_created",
            ["form_id", "organisation_id", "created_at", "id"],
            unique=False,
        )

    for table in ("app_users", "hubs"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("organisation_id", sa.Integer(), nullable=True))
            batch.create_foreign_key(
                op.f(f"fk_{table}_organisation_id_organisations"),
                "organisations",
                ["organisation_id"],
                ["id"],
            )
        op.execute(BACKFILL[table])

    with op.batch_alter_table("project_roles") as batch:
        batch.drop_constraint("role_known", type_="check")
        batch.create_check_constraint("role_known", NEW_ROLES)


def downgrade() -> None:
    op.execute("DELETE FROM project_roles WHERE role = 'coordinator'")
    with op.batch_alter_table("project_roles") as batch:
        batch.drop_constraint("role_known", type_="check")
        batch.create_check_constraint("role_known", OLD_ROLES)
    for table in ("hubs", "app_users"):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(f"fk_{table}_organisation_id_organisations"), type_="foreignkey")
            batch.drop_column("organisation_id")
    with op.batch_alter_table("submissions") as batch:
        batch.drop_index("ix_submissions_form_org_created")
        batch.drop_constraint(op.f("fk_submissions_organisation_id_organisations"), type_="foreignkey")
        batch.drop_column("organisation_id")
    op.drop_index(op.f("ix_project_partners_project_id"), table_name="project_partners")
    op.drop_index(op.f("ix_project_partners_organisation_id"), table_name="project_partners")
    op.drop_table("project_partners")
