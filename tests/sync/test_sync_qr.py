"""Collect's settings QR code: the payload format, both required keys, and images that render."""

from __future__ import annotations

import base64
import json
import zlib

import pytest

from forms import safe_xml
from sync import qr

URL = "https://ruta.example/v1/key/Tok3n$abc/projects/7"


def test_settings_have_general_admin_and_project() -> None:
    settings = qr.collect_settings(URL, project_name="Rumichaca")
    assert settings == {
        "general": {"server_url": URL, "form_update_mode": "match_exactly", "autosend": "wifi_and_cellular"},
        "admin": {},
        "project": {"name": "Rumichaca"},
    }


def test_extra_settings_cannot_override_the_server_url() -> None:
    settings = qr.collect_settings(
        URL,
        project_name="P",
        admin={"change_server": False},
        extra_general={"server_url": "https://evil.example", "default_completed": False},
    )
    assert settings["general"]["server_url"] == URL
    assert settings["general"]["default_completed"] is False
    assert settings["admin"] == {"change_server": False}


def test_unknown_modes_are_refused() -> None:
    with pytest.raises(ValueError, match="form_update_mode"):
        qr.collect_settings(URL, project_name="P", form_update_mode="sometimes")
    with pytest.raises(ValueError, match="autosend"):
        qr.collect_settings(URL, project_name="P", autosend="always")


def test_server_url_must_be_http() -> None:
    with pytest.raises(ValueError, match="http"):
        qr.collect_settings("ftp://x", project_name="P")


def test_payload_is_base64_of_zlib_of_compact_json() -> None:
    settings = qr.collect_settings(URL, project_name="Frontera Perú–Ecuador 🇵🇪")
    payload = qr.encode_settings(settings)
    assert "\n" not in payload
    raw = zlib.decompress(base64.b64decode(payload, validate=True))
    assert raw.isascii() and b": " not in raw and b", " not in raw
    assert json.loads(raw) == settings
    assert qr.decode_settings(payload) == settings


def test_encoding_refuses_settings_collect_would_ignore() -> None:
    with pytest.raises(ValueError, match="admin"):
        qr.encode_settings({"general": {"server_url": URL}})


@pytest.mark.parametrize(
    "payload",
    [
        "not base64!",
        base64.b64encode(b"not zlib").decode(),
        base64.b64encode(zlib.compress(b"[1, 2]")).decode(),
        base64.b64encode(zlib.compress(b"{not json")).decode(),
        base64.b64encode(zlib.compress(b"{" + b" " * (2 << 20) + b"}")).decode(),  # inflates past the cap
    ],
    ids=["base64", "zlib", "not-object", "json", "too-large"],
)
def test_decoding_bad_payloads(payload: str) -> None:
    with pytest.raises(qr.SettingsError):
        qr.decode_settings(payload)


def test_png_and_svg_render() -> None:
    payload = qr.encode_settings(qr.collect_settings(URL, project_name="P"))
    png = qr.qr_png(payload)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    svg = qr.qr_svg(payload)
    root = safe_xml.parse(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert int(root.get("width", "0")) > 100  # scaled, not one unit per module


def test_error_correction_level_is_l() -> None:
    assert qr._qr("abc").error == "L"
