"""Configuration: defaults, then ``RUTA_*`` environment variables, then the test config.

The instance folder holds what one installation owns: the SQLite database, the blob store and the
generated secret key. Nothing here reads the environment at import time; ``load_config`` is called by
the app factory.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

DEFAULTS: dict[str, Any] = {
    "DATABASE_URL": None,  # default: sqlite:///<instance>/ruta.sqlite3
    # A read replica of DATABASE_URL for exports and OData (optional); a client that just wrote reads the
    # primary for REPLICA_PIN_SECONDS.
    "DATABASE_REPLICA_URL": None,
    "REPLICA_PIN_SECONDS": 15,
    "BLOB_PATH": None,  # default: <instance>/blobs
    # Where blobs live: unset = the BLOB_PATH folder; s3://bucket/prefix = an S3-compatible bucket (the
    # AWS_* variables give credentials, region and AWS_ENDPOINT_URL); file:///path = another folder.
    "BLOB_STORE": None,
    # Downloads from S3: "redirect" to a presigned URL valid BLOB_URL_SECONDS, or "stream" through Ruta
    # (a bucket the devices and browsers cannot reach).
    "BLOB_DOWNLOADS": "redirect",
    "BLOB_URL_SECONDS": 300,
    "SECRET_KEY": None,  # default: generated once into <instance>/secret_key
    # Keys for the TOTP secrets kept in the database, comma-separated: the first encrypts, all decrypt
    # (app/auth/secret_box.py says how to rotate). Unset: a key derived from SECRET_KEY.
    "TOTP_KEYS": None,
    "BASE_URL": None,  # public URL, used in formList download URLs and QR codes when set
    "DIGEST_REALM": "Ruta",
    # Largest submission POST body accepted; advertised to devices as X-OpenRosa-Accept-Content-Length.
    "MAX_SUBMISSION_BYTES": 100 * 1024 * 1024,
    # Largest form upload (XLSForm, XForm or form media).
    "MAX_FORM_BYTES": 20 * 1024 * 1024,
    "SESSION_TTL_HOURS": 24,
    # The admin map's base layer: a tile URL template such as https://tile.example.org/{z}/{x}/{y}.png,
    # with MAP_TILE_ATTRIBUTION shown under it. Unset: the map draws the country outlines Ruta ships and
    # no browser asks a third party for tiles (tile requests reveal where the submissions are).
    "MAP_TILE_URL": None,
    "MAP_TILE_ATTRIBUTION": "",
    # Collect sends Basic credentials only over https; over plain http Ruta answers with Digest only
    # unless the deployment terminates TLS at a proxy it trusts (then set this).
    "TRUST_PROXY": False,
    "ALLOW_BASIC_OVER_HTTP": False,
    "ODK_VALIDATE": True,  # run ODK Validate on publish when Java is present
    "BABEL_DEFAULT_LOCALE": "es",
    # Most rows one OData response carries; more come through @odata.nextLink (docs/API-extensions.md).
    "ODATA_PAGE_SIZE": 1000,
    "ADMIN_EMAIL": None,
    "ADMIN_PASSWORD": None,
    # How many wrong passwords an address may send (admin login, POST /v1/sessions, Basic, Digest),
    # counted in the database, or in Redis when REDIS_URL is set.
    "REDIS_URL": None,
    "LOGIN_RATE_LIMIT": "10 per minute;50 per hour",
    # Background jobs (``ruta worker``): how long a claimed job stays a worker's without a heartbeat
    # (a worker killed mid-job is noticed after this), how long a finished export file is kept, how
    # long a webhook receiver gets to answer, and whether ``ruta serve`` starts a worker beside itself.
    "JOB_LEASE_SECONDS": 60,
    "EXPORT_TTL_HOURS": 24,
    "WEBHOOK_TIMEOUT_SECONDS": 10,
    "SERVE_WORKER": True,
    # The P-code gazetteer sites are checked against: the folder shipped with Ruta, or this one (a copy
    # of app/sites/gazetteer on storage every server reads, when admins upload updates in the admin).
    "GAZETTEER_DIR": None,
    # Offline entity updates held for an earlier step that never came are applied anyway (flagged for
    # review) after this many hours, as Central does; checked by the hourly maintenance job.
    "ENTITY_BACKLOG_FORCE_HOURS": 120,
    # Outgoing e-mail (password reset links), optional: without SMTP_HOST nothing is sent and the
    # admin shows the one-time code instead.
    "SMTP_HOST": None,
    "SMTP_PORT": 25,
    "SMTP_FROM": None,
    "SMTP_USER": None,
    "SMTP_PASSWORD": None,
    "SMTP_STARTTLS": False,
}

# Variables that are not plain strings.
_INT_KEYS = {
    "BLOB_URL_SECONDS",
    "REPLICA_PIN_SECONDS",
    "MAX_SUBMISSION_BYTES",
    "MAX_FORM_BYTES",
    "SESSION_TTL_HOURS",
    "ODATA_PAGE_SIZE",
    "JOB_LEASE_SECONDS",
    "EXPORT_TTL_HOURS",
    "WEBHOOK_TIMEOUT_SECONDS",
    "ENTITY_BACKLOG_FORCE_HOURS",
    "SMTP_PORT",
}
_BOOL_KEYS = {"TRUST_PROXY", "ALLOW_BASIC_OVER_HTTP", "ODK_VALIDATE", "SERVE_WORKER", "SMTP_STARTTLS"}


def _parse_bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def from_environment(environ: dict[str, str] | os._Environ[str]) -> dict[str, Any]:
    """The ``RUTA_*`` variables that are set, typed."""
    out: dict[str, Any] = {}
    for key in DEFAULTS:
        raw = environ.get(f"RUTA_{key}")
        if raw is None or raw == "":
            continue
        if key in _INT_KEYS:
            out[key] = int(raw)
        elif key in _BOOL_KEYS:
            out[key] = _parse_bool(raw)
        else:
            out[key] = raw
    return out


def instance_path_from_environment() -> str | None:
    return os.environ.get("RUTA_INSTANCE_PATH") or None


def finalise(config: dict[str, Any], instance_path: Path) -> None:
    """Fill the defaults that depend on the instance folder, creating it when needed."""
    instance_path.mkdir(parents=True, exist_ok=True)
    if not config.get("DATABASE_URL"):
        config["DATABASE_URL"] = f"sqlite:///{instance_path / 'ruta.sqlite3'}"
    if not config.get("BLOB_PATH"):
        config["BLOB_PATH"] = str(instance_path / "blobs")
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = _instance_secret(instance_path)
    # Flask and its extensions read these names.
    config["MAX_CONTENT_LENGTH"] = max(config["MAX_SUBMISSION_BYTES"], config["MAX_FORM_BYTES"])
    # The admin's cookie: never readable by scripts, not sent on cross-site posts, and https-only
    # whenever the public URL is https (plain-http hubs on a laptop still need to log in).
    config["SESSION_COOKIE_HTTPONLY"] = True
    config["SESSION_COOKIE_SAMESITE"] = "Lax"
    config["SESSION_COOKIE_SECURE"] = bool(config.get("SESSION_COOKIE_SECURE")) or str(
        config.get("BASE_URL") or ""
    ).startswith("https://")
    config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=config["SESSION_TTL_HOURS"])


def _instance_secret(instance_path: Path) -> str:
    """A secret generated once per installation, so sessions survive restarts without configuration."""
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    # O_EXCL: two processes starting at once must not each write a different key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key
