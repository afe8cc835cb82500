"""Migration hygiene: one head, models and migrations agree, down and up again work."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError

from app.migrate import MIGRATIONS, alembic_config


def test_single_head() -> None:
    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    assert len(heads) == 1, heads


def test_migration_files_are_named_in_order() -> None:
    names = sorted(p.name for p in (MIGRATIONS / "versions").glob("*.py"))
    assert names and all(re.match(r"^\d{8}_\d{4}_[a-z0-9_]+\.py$", n) for n in names), names


def test_models_and_migrations_agree(database_url: str) -> None:
    # alembic check raises when autogenerate would produce any operation.
    try:
        command.check(alembic_config(database_url))
    except CommandError as err:  # pragma: no cover - the failure message is the diff
        pytest.fail(str(err))


def test_downgrade_to_base_and_upgrade_again(database_url: str) -> None:
    cfg = alembic_config(database_url)
    command.downgrade(cfg, "base")
    command.upgrade(cfg, "head")
    command.check(cfg)


def test_versions_have_docstrings() -> None:
    for path in (MIGRATIONS / "versions").glob("*.py"):
        assert Path(path).read_text().startswith('"""'), path


def test_trigram_indexes_cannot_serve_equality(database_url: str) -> None:
    # pg_trgm serves ``=`` too; on a bare column the planner took a trigram bitmap scan for instanceID
    # lookups (seconds per batch). Only lower(column) may carry a trigram index (migration 0007).
    import sqlalchemy as sa

    if not database_url.startswith("postgresql"):
        assert "sqlite" in database_url  # SQLite has no trigram indexes; the search scans
        return
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        definitions = conn.scalars(
            sa.text(
                "SELECT indexdef FROM pg_indexes WHERE tablename = 'submissions' AND indexdef LIKE '%trgm%'"
            )
        ).all()
    engine.dispose()
    assert len(definitions) == 3, definitions
    assert all("(lower((" in d for d in definitions), definitions


def test_migration_0024_seals_stored_totp_secrets_and_opens_them_on_downgrade(database_url: str) -> None:
    import sqlalchemy as sa

    from app.auth.secret_box import PREFIX, SecretBox

    keys = ["the-app-secret-key"]
    plain = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    cfg = alembic_config(database_url, totp_keys=keys)
    command.downgrade(cfg, "0020")
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    users = sa.table(
        "users",
        *(sa.column(c) for c in ("id", "email", "display_name", "is_admin", "is_active")),
        sa.column("totp_secret"),
        sa.column("created_at"),
    )

    def stored() -> str:
        with engine.connect() as conn:
            return str(conn.scalar(sa.select(users.c.totp_secret).where(users.c.email == "t@example.org")))

    try:
        with engine.begin() as conn:
            conn.execute(
                sa.insert(users).values(
                    email="t@example.org",
                    display_name="T",
                    is_admin=False,
                    is_active=True,
                    totp_secret=plain,
                    created_at=sa.func.now(),
                )
            )
        # Without the app's keys the migration refuses rather than leave a plaintext behind.
        with pytest.raises(RuntimeError, match="ruta init"):
            command.upgrade(alembic_config(database_url), "head")
        assert stored() == plain
        command.upgrade(cfg, "head")
        sealed = stored()
        assert sealed.startswith(PREFIX) and plain not in sealed
        assert SecretBox(keys).open(sealed) == plain
        command.downgrade(cfg, "0020")
        assert stored() == plain
    finally:
        with engine.begin() as conn:
            conn.execute(sa.delete(users).where(users.c.email == "t@example.org"))
        engine.dispose()
        command.upgrade(cfg, "head")
