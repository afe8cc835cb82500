"""The OpenRosa device protocol (shared/docs/PROTOCOL.md) under two roots: ``/v1/key/<token>/
projects/<pid>`` for app-user tokens and ``/v1/projects/<pid>`` for accounts (Digest, or Basic over
https)."""

from flask import Blueprint

bp = Blueprint("openrosa", __name__)

from app.web.openrosa import views  # noqa: E402,F401
