"""totp_sealed_live_index: TOTP secrets encrypted at rest; an index of the live submissions

Issue 17: ``users.totp_secret`` becomes a Fernet token (app/auth/secret_box.py), so a database dump no
longer yields anyone's second factor; the column widens to hold it and every stored secret is sealed
here (and opened again on downgrade). The keys come from the app that runs the migration (``ruta init``,
``app.cli.upgrade_database``), passed in the Alembic config's attributes; a bare ``alembic upgrade``
without them stops with a message when there are secrets to seal.

The review table's count and pages read ``(form_id, created_at, id)`` over rows not in the trash: a
partial index of exactly those rows lets both be index-only scans at 100,000 submissions.

Revision ID: 0024
Revises: 0023
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

from app.auth.secret_box import PREFIX, SecretBox

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

USERS = sa.table("users", sa.column("id", sa.Integer), sa.column("totp_secret", sa.String))


def _box(rows: list[tuple[int, str]]) -> SecretBox | None:
    keys = context.config.attributes.get("ruta.totp_keys")
    if not rows:
        return None
    if not keys:
        raise RuntimeError(
            "Migration 0024 encrypts the stored TOTP secrets and needs the app's keys: run it with "
            "`ruta init`, which passes the keys of RUTA_TOTP_KEYS / RUTA_SECRET_KEY."
        )
    return SecretBox(list(keys))


def upgrade() -> None:
    conn = op.get_bind()
    rows = [
        (uid, secret)
        for uid, secret in conn.execute(sa.select(USERS.c.id, USERS.c.totp_secret))
        if secret is not None and not secret.startswith(PREFIX)
    ]
    box = _box(rows)  # before any change: without the keys, nothing is altered
    with op.batch_alter_table("users") as batch:
        batch.alter_column(
            "totp_secret",
            existing_type=sa.String(length=64),
            type_=sa.String(length=255),
            existing_nullable=True,
        )
    for uid, secret in rows:
        assert box is not None
        conn.execute(sa.update(USERS).where(USERS.c.id == uid).values(totp_secret=box.seal(secret)))
    op.create_index(
        "ix_submissions_form_live_created",
        "submissions",
        ["form_id", "created_at", "id"],
        unique=False,
        postgresql_where=sa.text("deleted_at IS NULL"),
        sqlite_where=sa.text("deleted_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_submissions_form_live_created", table_name="submissions")
    conn = op.get_bind()
    rows = [
        (uid, secret)
        for uid, secret in conn.execute(sa.select(USERS.c.id, USERS.c.totp_secret))
        if secret is not None and secret.startswith(PREFIX)
    ]
    box = _box(rows)
    for uid, secret in rows:
        assert box is not None
        conn.execute(sa.update(USERS).where(USERS.c.id == uid).values(totp_secret=box.open(secret)))
    with op.batch_alter_table("users") as batch:
        batch.alter_column(
            "totp_secret",
            existing_type=sa.String(length=255),
            type_=sa.String(length=64),
            existing_nullable=True,
        )
