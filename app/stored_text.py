"""The length policy's net for rows written through the ORM (projects, users, app users, hubs,
comments, ...): before every flush, each ``String(n)`` value must fit its column and no text may hold
NUL. SQLite enforces neither; PostgreSQL refuses both with an error that aborts the transaction. So
both databases refuse the same values, with a 400 that names the field.

The device and batch paths write their rows without the ORM; their identifiers are checked when the
submission is parsed (``sync/limits.py``).
"""

from __future__ import annotations

import itertools
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.errors import InvalidValueError


def check_flush(session: Session, _context: Any, _instances: Any) -> None:
    for obj in itertools.chain(session.new, session.dirty):
        state = sa.inspect(obj)
        loaded = state.dict  # only what is loaded: never a lazy load from inside a flush
        for prop in state.mapper.column_attrs:
            value = loaded.get(prop.key)
            if not isinstance(value, str):
                continue
            column = prop.columns[0]
            length = getattr(column.type, "length", None)
            field = f"{state.mapper.local_table.name}.{column.name}"
            if "\x00" in value:
                raise InvalidValueError(
                    f"The {column.name} contains a NUL character; send it without.", details={"field": field}
                )
            if length is not None and len(value) > length:
                raise InvalidValueError(
                    f"The {column.name} is {len(value)} characters long; at most {length} are accepted.",
                    details={"field": field},
                )


def install() -> None:
    if not event.contains(Session, "before_flush", check_flush):
        event.listen(Session, "before_flush", check_flush)
