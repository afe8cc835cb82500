"""Ruta: the Flask shell. ``create_app`` is a pipeline of named configure steps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from app import config as config_module


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    instance_path = (test_config or {}).get("INSTANCE_PATH") or config_module.instance_path_from_environment()
    app = Flask(
        __name__,
        instance_path=str(Path(instance_path).resolve()) if instance_path else None,
        instance_relative_config=True,
    )
    configure_settings(app, test_config)
    configure_indicators(app)
    configure_database(app)
    configure_input_guards(app)
    configure_blueprints(app)
    configure_errors(app)
    configure_unit_of_work(app)
    return app


def configure_settings(app: Flask, test_config: dict[str, Any] | None) -> None:
    app.config.update(config_module.DEFAULTS)
    app.config.update(config_module.from_environment(__import__("os").environ))
    if test_config:
        app.config.update(test_config)
    config_module.finalise(app.config, Path(app.instance_path))
    from app.sites import places

    places.set_directory(
        Path(app.config["GAZETTEER_DIR"]) if app.config["GAZETTEER_DIR"] else places.DATA_DIR
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    if app.config["TRUST_PROXY"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]


def configure_database(app: Flask) -> None:
    from app import blobs, db, replica

    db.init_app(app)
    replica.init_app(app)
    blobs.init_app(app)


def configure_input_guards(app: Flask) -> None:
    from app import stored_text
    from app.web import guards

    guards.init_app(app)
    stored_text.install()


def configure_blueprints(app: Flask) -> None:
    from app.web.api import bp as api_bp
    from app.web.odata import bp as odata_bp
    from app.web.openrosa import auth as openrosa_auth
    from app.web.openrosa import bp as openrosa_bp

    openrosa_auth.init_app(app)
    from app.web import login_guard

    login_guard.init_app(app)
    # Device routes first: /v1/projects/<pid>/formList and /submission belong to the device protocol.
    app.register_blueprint(openrosa_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(odata_bp)
    from app.web.admin import setup as admin_setup

    admin_setup.init_app(app)  # the admin web interface, with its CSRF and translations
    from app.web import compress

    compress.init_app(app)  # gzip for compressible responses (2G links); after the views' own hooks


def configure_unit_of_work(app: Flask) -> None:
    """Every view runs as one unit of work (commit, roll back, one retry of a unique-key race); last,
    so that it wraps the views of every blueprint registered above."""
    from app.web import unit_of_work

    unit_of_work.init_app(app)


def configure_errors(app: Flask) -> None:
    from app.web.errors import register_error_handlers

    register_error_handlers(app)


def configure_indicators(app: Flask) -> None:
    """Validate the indicator catalogue now: a broken YAML edit stops start-up with every problem listed,
    rather than failing in the middle of a report."""
    from app.indicators.catalog import CatalogError, load_catalog

    directory = app.config.get("INDICATOR_CATALOG_DIR")
    try:
        load_catalog(Path(directory) if directory else None)  # validated once per process and directory
    except CatalogError as exc:
        raise RuntimeError(f"The indicator catalogue is invalid; Ruta cannot start.\n{exc}") from exc
