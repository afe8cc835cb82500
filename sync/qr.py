"""The QR code that configures ODK Collect / KoboCollect for a project in one scan.

Collect reads a QR code whose text is the settings JSON, zlib-deflated, then base64 (no line breaks),
and refuses settings without both ``general`` and ``admin`` keys. The QR itself uses error correction
level L, as ODK Central does: device-token URLs and admin settings make long payloads, and the lowest
level keeps the code's modules large enough for cheap phone cameras to read off a screen.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import zlib
from typing import Any

import segno

FORM_UPDATE_MODES = ("manual", "previously_downloaded", "match_exactly")
AUTOSEND_MODES = ("off", "wifi_only", "cellular_only", "wifi_and_cellular")
# Real settings are a few hundred bytes; the cap only stops a crafted payload from inflating to gigabytes.
_MAX_SETTINGS_BYTES = 1 << 20


class SettingsError(ValueError):
    """A settings payload that is not base64 → zlib → a JSON object."""


def collect_settings(
    server_url: str,
    *,
    project_name: str,
    form_update_mode: str = "match_exactly",
    autosend: str = "wifi_and_cellular",
    admin: dict[str, Any] | None = None,
    extra_general: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Collect's settings for a server URL (``.../v1/key/<token>/projects/<pid>``) and project."""
    if not server_url.startswith(("https://", "http://")):
        raise ValueError("the server URL must start with http:// or https://")
    if form_update_mode not in FORM_UPDATE_MODES:
        raise ValueError(f"form_update_mode must be one of {', '.join(FORM_UPDATE_MODES)}")
    if autosend not in AUTOSEND_MODES:
        raise ValueError(f"autosend must be one of {', '.join(AUTOSEND_MODES)}")
    general: dict[str, Any] = {
        "server_url": server_url,
        "form_update_mode": form_update_mode,
        "autosend": autosend,
    }
    # Explicit arguments win over extras so a caller cannot silently point devices elsewhere.
    general = {**(extra_general or {}), **general}
    return {"general": general, "admin": dict(admin or {}), "project": {"name": project_name}}


def encode_settings(settings: dict[str, Any]) -> str:
    """JSON (ASCII, compact) → zlib deflate → base64 without line breaks."""
    if "general" not in settings or "admin" not in settings:
        raise ValueError("Collect ignores settings without both 'general' and 'admin' keys")
    # ASCII JSON keeps non-Latin project names intact whatever charset the reader assumes.
    raw = json.dumps(settings, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    return base64.b64encode(zlib.compress(raw, 9)).decode("ascii")


def decode_settings(payload: str) -> dict[str, Any]:
    """The inverse of :func:`encode_settings` (also reads codes made by other servers)."""
    try:
        compressed = base64.b64decode("".join(payload.split()), validate=True)
        inflater = zlib.decompressobj()
        raw = inflater.decompress(compressed, _MAX_SETTINGS_BYTES)
    except (binascii.Error, zlib.error, ValueError) as err:
        raise SettingsError(f"not a Collect settings payload: {err}") from err
    if inflater.unconsumed_tail:
        raise SettingsError("the settings payload is too large")
    try:
        settings = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise SettingsError(f"not a Collect settings payload: {err}") from err
    if not isinstance(settings, dict):
        raise SettingsError("not a Collect settings payload: the JSON is not an object")
    return settings


def _qr(payload: str) -> segno.QRCode:
    # boost_error off: the level stays L, predictable for whoever debugs a scan.
    return segno.make_qr(payload, error="l", boost_error=False)


def qr_png(payload: str, scale: int = 8, border: int = 4) -> bytes:
    """A PNG of the QR code; ``scale`` pixels per module, ``border`` modules of quiet zone."""
    out = io.BytesIO()
    _qr(payload).save(out, kind="png", scale=scale, border=border)
    return out.getvalue()


def qr_svg(payload: str, scale: int = 8, border: int = 4) -> bytes:
    """An SVG of the QR code (UTF-8, with XML declaration)."""
    out = io.BytesIO()
    _qr(payload).save(out, kind="svg", scale=scale, border=border, title="ODK Collect settings")
    return out.getvalue()
