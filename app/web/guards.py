"""Input that no route can use, refused before any view runs.

- ``<int:...>`` path ids stop at 2**31 - 1, the largest id an INTEGER column holds on PostgreSQL:
  a larger one does not match the route (404), instead of reaching a query the database refuses.
  Digits are ASCII only.
- NUL anywhere in the path or the query string is a 400: PostgreSQL cannot store or compare text with
  NUL in it, and no client sends one on purpose.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request
from werkzeug.routing import IntegerConverter, Map

from app.errors import BadRequestError
from app.web.query import MAX_DB_INT


class DatabaseIdConverter(IntegerConverter):
    regex = r"[0-9]+"

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_DB_INT)
        super().__init__(map, *args, **kwargs)


def _refuse_nul() -> None:
    args = request.args.items(multi=True)
    if "\x00" in request.path or any("\x00" in k or "\x00" in v for k, v in args):
        raise BadRequestError("The address contains a NUL character (%00); remove it.")


def init_app(app: Flask) -> None:
    """Before the blueprints: their rules are compiled with the converters registered at that time."""
    app.url_map.converters["int"] = DatabaseIdConverter
    app.before_request(_refuse_nul)
