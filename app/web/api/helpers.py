"""Request parsing for the API: flags and bounded raw bodies (JSON bodies: ``app/web/query.py``)."""

from __future__ import annotations

from flask import current_app, g, request

from app.errors import InvalidValueError, PayloadTooLargeError


def flag(name: str, default: bool = False) -> bool:
    raw = request.args.get(name)
    if raw is None:
        return default
    if raw.lower() in {"true", "1", "yes"}:
        return True
    if raw.lower() in {"false", "0", "no"}:
        return False
    raise InvalidValueError(f"The query parameter {name} must be true or false.")


def read_body(limit_key: str = "MAX_FORM_BYTES") -> bytes:
    """The raw request body, refusing more than the configured limit without reading it all."""
    limit = int(current_app.config[limit_key])
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLargeError(
            f"The upload is {request.content_length} bytes; the largest accepted is {limit} bytes."
        )
    if "raw_body" in g:  # a second run of the view (the unit of work's retry): the stream is spent
        kept: bytes = g.raw_body
        return kept
    data = request.stream.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLargeError(f"The upload is larger than the {limit} bytes accepted.")
    g.raw_body = data
    return data
