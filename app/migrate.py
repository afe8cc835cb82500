"""Alembic configuration built in code, so ``ruta init`` and the tests migrate without an ini file."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str, *, totp_keys: list[str] | None = None) -> Config:
    """``totp_keys``: the app's keys for the TOTP secrets (``secret_box.passphrases``), which migration
    0024 needs to seal the secrets already stored."""
    cfg = Config()
    if totp_keys:
        cfg.attributes["ruta.totp_keys"] = list(totp_keys)
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # '%' must be escaped for configparser; URLs may contain it in passwords.
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    cfg.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    return cfg
