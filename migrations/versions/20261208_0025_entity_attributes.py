"""entity_attributes: app users' attributes and the list properties they must match

An entity list can show an app user only the entities whose property (a team, a site code) is one of
the app user's own values for the attribute of that name; an app user without it sees none.

Revision ID: 0025
Revises: 0024
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.db import JSONType

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("app_users") as batch:
        batch.add_column(sa.Column("attributes", JSONType, nullable=False, server_default="{}"))
    with op.batch_alter_table("datasets") as batch:
        batch.add_column(sa.Column("match_attributes", JSONType, nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("datasets") as batch:
        batch.drop_column("match_attributes")
    with op.batch_alter_table("app_users") as batch:
        batch.drop_column("attributes")
