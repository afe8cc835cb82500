"""submissions.current_version_id checked at commit (DEFERRABLE INITIALLY DEFERRED)

submissions and submission_versions reference each other. With the key checked at the commit, the
batch endpoint inserts each new submission already pointing at the version it inserts next, instead of
inserting it empty and updating every row afterwards (an UPDATE that rewrote each new row and all its
index entries a second time).

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "fk_submissions_current_version"


def _recreate(**options: object) -> None:
    with op.batch_alter_table("submissions") as batch:
        batch.drop_constraint(NAME, type_="foreignkey")
        batch.create_foreign_key(NAME, "submission_versions", ["current_version_id"], ["id"], **options)


def upgrade() -> None:
    _recreate(deferrable=True, initially="DEFERRED")


def downgrade() -> None:
    _recreate()
