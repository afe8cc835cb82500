"""Query arguments read through marshmallow schemas, so junk is a 400 that names the argument, never a
500 from ``int("abc")`` or from a number the database cannot hold.

Views declare what they read as a schema and call :func:`parse`; unknown arguments are ignored (clients
add their own, such as cache busters).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import request
from marshmallow import EXCLUDE, Schema, ValidationError, fields

from app.errors import InvalidValueError

# The largest value an INTEGER column (every id) holds on PostgreSQL; SQLite would take more, so the
# limit is applied here for both.
MAX_DB_INT = 2**31 - 1


class Count(fields.Integer):
    """A whole number from 0 to ``MAX_DB_INT``, written with ASCII digits only: Python's ``int()``
    would accept "²"-like digits, spaces, signs and underscores that no client means."""

    def __init__(self, *, minimum: int = 0, maximum: int = MAX_DB_INT, **kwargs: Any) -> None:
        super().__init__(strict=False, **kwargs)
        self.minimum, self.maximum = minimum, maximum

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> int:
        text = str(value)
        if not (text.isascii() and text.isdigit()):
            raise ValidationError(f"must be a whole number from {self.minimum} to {self.maximum}.")
        number = int(text)
        if not self.minimum <= number <= self.maximum:
            raise ValidationError(f"must be a whole number from {self.minimum} to {self.maximum}.")
        return number


class Text(fields.String):
    """Free text from the query string, bounded (a NUL never gets here: ``app/web/guards.py``)."""

    def __init__(self, *, max_length: int = 1000, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_length = max_length

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        text = str(super()._deserialize(value, attr, data, **kwargs))
        if len(text) > self.max_length:
            raise ValidationError(f"must be at most {self.max_length} characters.")
        return text


class QuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE


def parse(schema: Schema, args: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``args`` (default: this request's query string) loaded by ``schema``; empty values count as
    absent. Junk is an :class:`InvalidValueError` naming each argument and what it must be."""
    source = request.args if args is None else args
    present = {k: v for k, v in source.items() if v not in (None, "")}
    try:
        return dict(schema.load(present))
    except ValidationError as err:
        messages = err.normalized_messages()
        problems = "; ".join(
            f"{name} {' '.join(str(m) for m in (msgs if isinstance(msgs, list) else [msgs]))}"
            for name, msgs in messages.items()
        )
        raise InvalidValueError(
            f"The query string is not valid: {problems}", details={"arguments": messages}
        ) from err
