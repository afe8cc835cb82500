"""Trash, retention and sensitivity classes: submissions.deleted_at/_by, forms.retention_days/.sensitivity

A deleted submission goes to the trash (deleted_at set) and every read path leaves it out; it can be
restored for 30 days, then it is purged with the blobs no other record uses. A form may keep its records
for ``retention_days`` only. ``sensitivity`` is the form's information-sharing class: outputs print it and
a share at a lower class is refused. Existing forms start 'restricted' (microdata is never public by
default).

Revision ID: 0018
Revises: 0017
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("deleted_at", app.db.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("deleted_by_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_submissions_deleted_by_id_users", "users", ["deleted_by_id"], ["id"])
        batch.create_index("ix_submissions_form_deleted", ["form_id", "deleted_at"])
    with op.batch_alter_table("forms") as batch:
        batch.add_column(sa.Column("retention_days", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("sensitivity", sa.String(length=24), server_default="restricted", nullable=False)
        )
        batch.create_check_constraint(
            "sensitivity_known",
            "sensitivity IN ('public','restricted','confidential','strictly_confidential')",
        )


def downgrade() -> None:
    with op.batch_alter_table("forms") as batch:
        batch.drop_constraint("sensitivity_known", type_="check")
        batch.drop_column("sensitivity")
        batch.drop_column("retention_days")
    with op.batch_alter_table("submissions") as batch:
        batch.drop_index("ix_submissions_form_deleted")
        batch.drop_constraint("fk_submissions_deleted_by_id_users", type_="foreignkey")
        batch.drop_column("deleted_by_id")
        batch.drop_column("deleted_at")
