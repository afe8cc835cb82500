"""The content-addressed blob store: file bytes named by their sha256, on disk or in S3.

A blob is written durably before the database commit that references it; so when a device hears 201
its files are already stored. Writing the same bytes twice is a no-op, which makes resends and races
harmless. ``BlobStore`` is the one interface; ``FileBlobStore`` (the default, the laptop mode) keeps
the bytes under the instance folder, ``app.blobs_s3.S3BlobStore`` in any S3-compatible bucket
(``RUTA_BLOB_STORE=s3://bucket/prefix``), which several app servers can share.

Filesystem: each blob is written to a temporary file in the store, fsynced, renamed into place and
its directory fsynced.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from flask import Flask, current_app

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    md5: str
    size: int


def check_sha256(sha256: str) -> str:
    """A blob name is a lowercase sha256 hex digest and nothing else (it becomes a path or a key)."""
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError("not a sha256 hex digest")
    return sha256


def describe(data: bytes) -> StoredBlob:
    return StoredBlob(hashlib.sha256(data).hexdigest(), hashlib.md5(data).hexdigest(), len(data))


class BlobStore(ABC):
    """Where blob bytes live. Every ``put*`` returns only once the bytes are durably stored."""

    url: str  # where it is, as RUTA_BLOB_STORE names it (file:///... or s3://bucket/prefix)

    @abstractmethod
    def exists(self, sha256: str) -> bool: ...

    @abstractmethod
    def put(self, data: bytes) -> StoredBlob: ...

    @abstractmethod
    def put_stream(self, stream: BinaryIO) -> StoredBlob:
        """Store a stream without holding it in memory (large media, batch zips)."""

    @abstractmethod
    def put_many(self, datas: list[bytes]) -> list[StoredBlob]: ...

    @abstractmethod
    def read(self, sha256: str) -> bytes: ...

    @abstractmethod
    def open(self, sha256: str) -> BinaryIO: ...

    @abstractmethod
    def iter_chunks(self, sha256: str) -> Iterator[bytes]: ...

    @abstractmethod
    def delete(self, sha256: str) -> None:
        """Remove a blob nothing references any more (expired export files); absent is fine."""

    def download_url(self, sha256: str, *, content_type: str, disposition: str | None) -> str | None:
        """A short-lived URL the client may fetch the bytes from directly (answered with these
        Content-Type and Content-Disposition), or None: Ruta serves them itself."""
        return None

    def verified(self, sha256: str) -> bool:
        """Whether the blob is present and its bytes hash to its name (``ruta blobs migrate``)."""
        if not self.exists(sha256):
            return False
        digest = hashlib.sha256()
        for chunk in self.iter_chunks(sha256):
            digest.update(chunk)
        return digest.hexdigest() == sha256


class FileBlobStore(BlobStore):
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._tmp = self.root / "tmp"
        self._tmp.mkdir(exist_ok=True)
        self.url = self.root.resolve().as_uri()

    def path(self, sha256: str) -> Path:
        check_sha256(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).exists()

    def put(self, data: bytes) -> StoredBlob:
        stored = describe(data)
        if not self.exists(stored.sha256):
            self._write(stored.sha256, [data])
        return stored

    def put_stream(self, stream: BinaryIO) -> StoredBlob:
        sha, md5, size = hashlib.sha256(), hashlib.md5(), 0
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp)
        try:
            with os.fdopen(fd, "wb") as fh:
                while chunk := stream.read(CHUNK):
                    sha.update(chunk)
                    md5.update(chunk)
                    size += len(chunk)
                    fh.write(chunk)
                fh.flush()
                os.fsync(fh.fileno())
            digest = sha.hexdigest()
            self._place(Path(tmp_name), digest)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return StoredBlob(digest, md5.hexdigest(), size)

    def put_many(self, datas: list[bytes]) -> list[StoredBlob]:
        """Store many files with one fsync per file and one per directory (a batch): all are written,
        then all fsynced, renamed, and their directories fsynced once each, before the caller commits."""
        stored = [describe(d) for d in datas]
        pending: dict[str, Path] = {}
        try:
            for blob, data in zip(stored, datas, strict=True):
                if blob.sha256 in pending or self.exists(blob.sha256):
                    continue
                fd, tmp_name = tempfile.mkstemp(dir=self._tmp)
                pending[blob.sha256] = Path(tmp_name)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
            dirs = set()
            for sha, tmp in pending.items():
                final = self.path(sha)
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, final)
                dirs.add(final.parent)
            for directory in dirs:
                dir_fd = os.open(directory, os.O_RDONLY)
                try:
                    os.fsync(dir_fd)
                finally:
                    os.close(dir_fd)
        except BaseException:
            for tmp in pending.values():
                tmp.unlink(missing_ok=True)
            raise
        return stored

    def read(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()

    def open(self, sha256: str) -> BinaryIO:
        return self.path(sha256).open("rb")

    def iter_chunks(self, sha256: str) -> Iterator[bytes]:
        with self.open(sha256) as fh:
            while chunk := fh.read(CHUNK):
                yield chunk

    def delete(self, sha256: str) -> None:
        """Remove a blob nothing references any more (expired export files); absent is fine."""
        self.path(sha256).unlink(missing_ok=True)

    def _write(self, sha: str, chunks: list[bytes]) -> None:
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp)
        try:
            with os.fdopen(fd, "wb") as fh:
                for chunk in chunks:
                    fh.write(chunk)
                fh.flush()
                os.fsync(fh.fileno())
            self._place(Path(tmp_name), sha)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise

    def _place(self, tmp: Path, sha: str) -> None:
        final = self.path(sha)
        final.parent.mkdir(parents=True, exist_ok=True)
        # rename is atomic: a reader sees no file or the whole file, never a partial one. Racing
        # writers of the same sha write identical bytes, so whichever rename wins is correct.
        os.replace(tmp, final)
        dir_fd = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def open_store(url: str | None, default_path: str | Path, *, url_seconds: int = 300) -> BlobStore:
    """The store ``url`` names: ``s3://bucket/prefix``, ``file:///path``, or (None) the default folder."""
    if not url:
        return FileBlobStore(default_path)
    if url.startswith("s3://"):
        from app.blobs_s3 import S3BlobStore  # boto3 is imported only by installations that use S3

        return S3BlobStore.from_url(url, url_seconds=url_seconds)
    if url.startswith("file://"):
        return FileBlobStore(url.removeprefix("file://"))
    raise ValueError(f"RUTA_BLOB_STORE must start with s3:// or file://, not {url!r}")


def init_app(app: Flask) -> None:
    app.extensions["ruta.blobs"] = open_store(
        app.config.get("BLOB_STORE"), app.config["BLOB_PATH"], url_seconds=app.config["BLOB_URL_SECONDS"]
    )


def get_blob_store(app: Flask | None = None) -> BlobStore:
    return (app or current_app).extensions["ruta.blobs"]
