"""form_admin: who published each form version, and archived forms

The admin lists a form's versions with the person who published them (drafts keep who uploaded
them in created_by_id, which is not the same person when a manager publishes someone's upload), and
a form no longer in use can be archived: kept with its submissions, hidden from devices and lists.

Revision ID: 0020
Revises: 0019
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("form_versions") as batch:
        batch.add_column(sa.Column("published_by_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_form_versions_published_by_id_users"), "users", ["published_by_id"], ["id"]
        )
    with op.batch_alter_table("forms") as batch:
        batch.add_column(sa.Column("is_archived", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("forms") as batch:
        batch.drop_column("is_archived")
    with op.batch_alter_table("form_versions") as batch:
        batch.drop_constraint(op.f("fk_form_versions_published_by_id_users"), type_="foreignkey")
        batch.drop_column("published_by_id")
