"""The content-addressed blob store: file bytes on disk, named by their sha256.

A blob is written to a temporary file in the store, fsynced, renamed into place and its directory
fsynced, all before the database commit that references it; so when a device hears 201 its files are
already durable. Writing the same bytes twice is a no-op, which makes resends and races harmless.
Behind this one small interface a deployment could put shared storage for several app servers.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
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


class BlobStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._tmp = self.root / "tmp"
        self._tmp.mkdir(exist_ok=True)

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError("not a sha256 hex digest")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).exists()

    def put(self, data: bytes) -> StoredBlob:
        sha = hashlib.sha256(data).hexdigest()
        stored = StoredBlob(sha, hashlib.md5(data).hexdigest(), len(data))
        if not self.exists(sha):
            self._write(sha, [data])
        return stored

    def put_stream(self, stream: BinaryIO) -> StoredBlob:
        """Store a stream without holding it in memory (large media, batch zips)."""
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
        stored = [
            StoredBlob(hashlib.sha256(d).hexdigest(), hashlib.md5(d).hexdigest(), len(d)) for d in datas
        ]
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


def init_app(app: Flask) -> None:
    app.extensions["ruta.blobs"] = BlobStore(app.config["BLOB_PATH"])


def get_blob_store(app: Flask | None = None) -> BlobStore:
    return (app or current_app).extensions["ruta.blobs"]
