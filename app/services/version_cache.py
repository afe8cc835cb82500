"""The one per-process cache of what is derived from a published form version: its schema, the
compiled schema ingest extracts values with, the quality rules' fields, the entity declarations.

Published versions are immutable and every key carries the version's sha256, so nothing here can be
stale; a draft replaced in place gets a new sha256, hence a new key. Each process fills its own copy
on a miss (one query at most); the whole cache is dropped when it grows past ``LIMIT`` entries, which
a server with a few hundred form versions never reaches.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import FormVersion
from forms.schema import FormSchema
from sync.values import CompiledSchema, compile_schema

T = TypeVar("T")
LIMIT = 2048
_CACHE: dict[tuple[str, int, str], Any] = {}


def cached(kind: str, version_id: int, sha256: str, build: Callable[[], T]) -> T:
    """``build()``'s value for this version, built once per process (``kind`` names what it is)."""
    key = (kind, version_id, sha256)
    found = _CACHE.get(key, _CACHE)
    if found is _CACHE:
        if len(_CACHE) >= LIMIT:
            _CACHE.clear()
        found = _CACHE[key] = build()
    return found


def form_schema(
    session: Session | None, version_id: int, sha256: str, stored: dict[str, Any] | None = None
) -> FormSchema:
    """The version's schema; ``stored`` is its ``schema`` column when the caller holds the row (else
    it is read through ``session`` on a miss)."""

    def build() -> FormSchema:
        raw = stored
        if raw is None:
            assert session is not None, "a version's schema is read through a session"
            raw = session.scalar(select(FormVersion.schema).where(FormVersion.id == version_id))
        return FormSchema.from_dict(raw or {})

    return cached("schema", version_id, sha256, build)


def compiled_schema(session: Session, version_id: int, sha256: str) -> CompiledSchema:
    """The schema prepared for value extraction (``sync.values``)."""
    return cached(
        "compiled", version_id, sha256, lambda: compile_schema(form_schema(session, version_id, sha256))
    )
