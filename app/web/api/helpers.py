"""Request parsing for the API: JSON bodies, flags, bounded raw bodies."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, request

from app.errors import InvalidJSONError, InvalidValueError, MissingFieldError, PayloadTooLargeError


def json_value() -> Any:
    """The request body as JSON of any shape; None when it is not JSON."""
    try:
        return request.get_json(silent=True, force=True)
    except RecursionError:  # nested past the decoder's limit: not a body any endpoint takes
        return None


def json_body(what: str = "The request body must be a JSON object.") -> dict[str, Any]:
    data = json_value()
    if not isinstance(data, dict):
        raise InvalidJSONError(what)
    return data


def required(data: dict[str, Any], key: str) -> Any:
    if data.get(key) in (None, ""):
        raise MissingFieldError(f"The field {key!r} is required.", details={"field": key})
    return data[key]


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
