"""A lean reader for the multipart bodies devices send: split on the boundary, read each part's two
headers, done.

Werkzeug's general parser compiles a regular expression for every request (the boundary is in it),
which costs more than the rest of the parse on a small submission. Bodies from Collect, Enketo and
Web Forms are plain (CRLF lines, a Content-Disposition per part), so they are read here; anything
unusual (bare LF lines, a preamble, a missing close delimiter, no length) gets ``None`` and the caller
falls back to Werkzeug, which is the reference for what is accepted.
"""

from __future__ import annotations

from dataclasses import dataclass

from werkzeug.http import parse_options_header

CRLF = b"\r\n"


@dataclass(frozen=True)
class Part:
    name: str
    filename: str | None  # None: a plain field (Werkzeug's request.form); else a file (request.files)
    content_type: str | None  # the media type alone, lower case, as FileStorage.mimetype
    data: bytes


def parse(body: bytes, content_type: str) -> list[Part] | None:
    """The parts of a multipart/form-data body, or None when it is not plain enough to read here."""
    mimetype, options = parse_options_header(content_type)
    boundary = options.get("boundary", "").encode("latin-1", "replace")
    if mimetype != "multipart/form-data" or not boundary or len(boundary) > 200:
        return None
    delimiter = b"--" + boundary
    if body.startswith(CRLF + delimiter):
        body = body[2:]  # an empty preamble (Werkzeug's own encoder writes one)
    if not body.startswith(delimiter):
        return None
    segments = body[len(delimiter) :].split(CRLF + delimiter)
    # Every segment but the last is CRLF + part; the last starts with the close delimiter's "--".
    last = segments.pop()
    if not last.startswith(b"--") or last[2:].strip(b" \t\r\n"):
        return None
    parts = []
    for segment in segments:
        if not segment.startswith(CRLF):
            return None
        head, sep, data = segment[2:].partition(CRLF + CRLF)
        if not sep:
            return None
        part = _part(head, data)
        if part is None:
            return None
        parts.append(part)
    return parts


def _part(head: bytes, data: bytes) -> Part | None:
    headers: dict[str, str] = {}
    for line in head.split(CRLF):
        key, colon, value = line.decode("utf-8", "replace").partition(":")
        if not colon or key != key.strip():
            return None  # folded or malformed header lines: leave them to the general parser
        headers[key.lower()] = value.strip()
    disposition, options = parse_options_header(headers.get("content-disposition"))
    name = options.get("name")
    if disposition != "form-data" or name is None:
        return None
    content_type = headers.get("content-type")
    mimetype = parse_options_header(content_type)[0].lower() if content_type else None
    return Part(name, options.get("filename"), mimetype or None, data)
