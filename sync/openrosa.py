"""Every OpenRosa XML document Ruta sends to a device: the form list, form manifests and the
``OpenRosaResponse`` that answers a submission, plus the header values those endpoints carry.

The documents are small and fixed in shape, so they are written as text rather than built as trees;
every value goes through :func:`_text` so names and labels typed by form designers (``<``, ``&``, quotes,
stray control characters) can never break the XML or inject markup into it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

OPENROSA_VERSION = "1.0"
OPENROSA_VERSION_HEADER = "X-OpenRosa-Version"
ACCEPT_CONTENT_LENGTH_HEADER = "X-OpenRosa-Accept-Content-Length"
# Collect rejects a formList served as application/xml (it takes it for a captive portal).
XML_CONTENT_TYPE = "text/xml; charset=utf-8"

XFORMS_LIST_NS = "http://openrosa.org/xforms/xformsList"
XFORMS_MANIFEST_NS = "http://openrosa.org/xforms/xformsManifest"
RESPONSE_NS = "http://openrosa.org/http/response"

SUBMIT_SUCCESS = "submit_success"
ERROR = "error"

_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
_MD5_HEX = re.compile(r"[0-9a-f]{32}")
# Characters XML 1.0 cannot carry at all, not even escaped. A form title is display text, so replacing
# them is better than refusing to list the form.
_NOT_XML_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _text(value: str) -> str:
    return escape(_NOT_XML_CHAR.sub("\ufffd", value))


def _attr(value: str) -> str:
    return quoteattr(_NOT_XML_CHAR.sub("\ufffd", value))


def _md5_field(md5_hex: str) -> str:
    # Devices compare this with the md5 of their local copy; a malformed value would make every device
    # re-download the form forever, so refuse it here rather than on the wire.
    if not _MD5_HEX.fullmatch(md5_hex):
        raise ValueError(f"expected 32 lowercase hex digits of an md5 digest, got {md5_hex!r}")
    return f"md5:{md5_hex}"


@dataclass(frozen=True)
class FormListEntry:
    """One form in a formList. ``md5_hex`` is the md5 of the exact bytes ``download_url`` serves;
    ``manifest_url`` is set only when the form has media attachments."""

    form_id: str
    name: str
    version: str | None
    md5_hex: str
    download_url: str
    manifest_url: str | None = None
    description_text: str | None = None

    def __post_init__(self) -> None:
        _md5_field(self.md5_hex)


@dataclass(frozen=True)
class ManifestFile:
    """One media file in a form manifest; ``md5_hex`` is the md5 of the bytes ``download_url`` serves."""

    filename: str
    md5_hex: str
    download_url: str
    # An entity list is announced as type="entityList" with the URL Collect asks which of its
    # entities were deleted (ODK Central's manifest shape).
    media_type: str | None = None
    integrity_url: str | None = None

    def __post_init__(self) -> None:
        _md5_field(self.md5_hex)


def form_list(entries: Iterable[FormListEntry]) -> bytes:
    """The ``<xforms>`` document answering ``GET <root>/formList``."""
    parts = [_XML_DECLARATION, f"<xforms xmlns={_attr(XFORMS_LIST_NS)}>\n"]
    for entry in entries:
        parts.append("<xform>")
        parts.append(f"<formID>{_text(entry.form_id)}</formID>")
        parts.append(f"<name>{_text(entry.name)}</name>")
        # Always present (empty when the form has none), as ODK Central sends it; Collect reads an empty
        # version as "no version".
        parts.append(f"<version>{_text(entry.version or '')}</version>")
        parts.append(f"<hash>{_md5_field(entry.md5_hex)}</hash>")
        if entry.description_text:
            parts.append(f"<descriptionText>{_text(entry.description_text)}</descriptionText>")
        parts.append(f"<downloadUrl>{_text(entry.download_url)}</downloadUrl>")
        if entry.manifest_url:
            parts.append(f"<manifestUrl>{_text(entry.manifest_url)}</manifestUrl>")
        parts.append("</xform>\n")
    parts.append("</xforms>\n")
    return "".join(parts).encode("utf-8")


def manifest(files: Iterable[ManifestFile]) -> bytes:
    """The ``<manifest>`` document answering a form's ``manifestUrl``."""
    parts = [_XML_DECLARATION, f"<manifest xmlns={_attr(XFORMS_MANIFEST_NS)}>\n"]
    for media in files:
        parts.append(f"<mediaFile type={_attr(media.media_type)}>" if media.media_type else "<mediaFile>")
        parts.append(f"<filename>{_text(media.filename)}</filename>")
        parts.append(f"<hash>{_md5_field(media.md5_hex)}</hash>")
        parts.append(f"<downloadUrl>{_text(media.download_url)}</downloadUrl>")
        if media.integrity_url:
            parts.append(f"<integrityUrl>{_text(media.integrity_url)}</integrityUrl>")
        parts.append("</mediaFile>\n")
    parts.append("</manifest>\n")
    return "".join(parts).encode("utf-8")


def entity_integrity(states: Iterable[tuple[str, bool]]) -> bytes:
    """The document answering an entity list's ``integrityUrl``: which of the asked entities are
    deleted, so Collect drops them from its offline copy (ODK Central's shape)."""
    parts = [_XML_DECLARATION, "<data>\n<entities>\n"]
    for uuid, deleted in states:
        parts.append(
            f"<entity id={_attr(uuid)}><deleted>{'true' if deleted else 'false'}</deleted></entity>\n"
        )
    parts.append("</entities>\n</data>\n")
    return "".join(parts).encode("utf-8")


def openrosa_response(message: str, nature: str = SUBMIT_SUCCESS) -> bytes:
    """An ``<OpenRosaResponse>`` whose one message Collect shows to the enumerator as is."""
    return (
        f"{_XML_DECLARATION}<OpenRosaResponse xmlns={_attr(RESPONSE_NS)}>"
        f"<message nature={_attr(nature)}>{_text(message)}</message>"
        "</OpenRosaResponse>\n"
    ).encode()
