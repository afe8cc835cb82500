"""The JSON API under /v1, in ODK Central's shapes wherever the two overlap (pyodk, ruODK, OData)."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/v1")

from app.web.api import (  # noqa: E402,F401  (views register themselves on bp)
    app_users,
    audits,
    background,
    batch,
    entities,
    exports,
    hubs,
    indicators,
    keys,
    meta,
    projects,
    quality,
    response,
    retention,
    sensitive_grants,
    sessions,
    sites,
    submissions,
)
from app.web.api import publishing as forms  # noqa: E402,F401  (views register themselves on bp)
