"""flow_fact_transports: every transport mode of a flow fact's travel group (issue 20)

The flow-count form's transport question is multi-select, but a flow fact kept only the first mode. This
table holds one row per fact and mode, so ``by=transport`` counts a group under each mode it used while
every other output still counts it once. Existing facts get their one known mode (the first); the indicator
refresh writes all of them from then on.

Revision ID: 0026
Revises: 0025
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "flow_fact_transports",
        sa.Column(
            "fact_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.ForeignKey("flow_facts.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("transport", sa.String(64), primary_key=True),
    )
    op.execute("INSERT INTO flow_fact_transports (fact_id, transport) SELECT id, transport FROM flow_facts")


def downgrade() -> None:
    op.drop_table("flow_fact_transports")
