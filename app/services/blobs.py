"""Blob rows: the database side of the content-addressed store."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.blobs import BlobStore, StoredBlob
from app.errors import UnsafeFileNameError
from app.models import Blob
from sync import limits
from sync.submission import is_safe_file_name


def check_file_name(name: str) -> None:
    """Refuse a file name with a path in it, or longer than Ruta stores, before anything is stored."""
    if not is_safe_file_name(name):
        why = limits.problem("fileName", name) or "send the plain file name, without a path."
        raise UnsafeFileNameError(f"The file name {name[:80]!r} is not allowed: {why}")


def ensure_blob_row(session: Session, stored: StoredBlob, content_type: str | None = None) -> None:
    """Insert the Blob row unless it exists. ON CONFLICT DO NOTHING: two requests storing the same
    bytes at once (a resend racing the original) must both succeed."""
    values = {
        "sha256": stored.sha256,
        "md5": stored.md5,
        "size": stored.size,
        "content_type": (content_type or "application/octet-stream")[:255],
    }
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(Blob).values(**values).on_conflict_do_nothing(index_elements=["sha256"]))


def store_bytes(
    session: Session, store: BlobStore, data: bytes, content_type: str | None = None
) -> StoredBlob:
    """Write ``data`` durably to the store (fsynced) and make sure its row exists."""
    stored = store.put(data)
    ensure_blob_row(session, stored, content_type)
    return stored
