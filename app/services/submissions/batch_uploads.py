"""Resumable batch uploads on the central side: a hub on a link that drops sends a batch body in
chunks (``Content-Range``), each appended to a part file under the instance folder; once complete and
hashing to its id (the body's sha256), the body is ingested as a batch. A cut costs the sender only
the chunk in flight: it asks how much is held and sends the rest.

Parts live in ``<instance>/uploads/<sender>/<sha256>.part``, one folder per sender (a hub or a user),
so nobody appends to or reads another sender's upload. The ingest answer is kept beside it
(``<sha256>.answer.json``) for a retry whose response was lost on the way; parts and answers older
than ``KEEP`` are removed when the sender starts a new upload. Appends hold an exclusive ``flock`` on
the part, so a chunk retried while its first copy is still arriving cannot interleave with it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.errors import UploadIncompleteError, UploadInvalidError, UploadOffsetError

KEEP = 7 * 24 * 3600
PIECE = 64 * 1024
_ID = re.compile(r"^[0-9a-f]{64}$")
_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")


@dataclass(frozen=True)
class UploadState:
    received: int
    answer: dict[str, Any] | None


def sender_dir(root: Path, sender: str) -> Path:
    return root / "uploads" / sender


def _paths(folder: Path, upload_id: str) -> tuple[Path, Path]:
    if not _ID.match(upload_id):
        raise UploadInvalidError("The upload id is the body's sha256: 64 lower-case hex digits.")
    return folder / f"{upload_id}.part", folder / f"{upload_id}.answer.json"


def state(folder: Path, upload_id: str) -> UploadState:
    part, answer = _paths(folder, upload_id)
    if answer.exists():
        return UploadState(part.stat().st_size if part.exists() else 0, json.loads(answer.read_bytes()))
    return UploadState(part.stat().st_size if part.exists() else 0, None)


def parse_range(header: str | None, max_total: int) -> tuple[int, int, int]:
    """``bytes start-end/total`` -> (start, end exclusive, total), checked against ``max_total``."""
    m = _RANGE.match((header or "").strip())
    if m is None:
        raise UploadInvalidError("Send each chunk with Content-Range: bytes <first>-<last>/<total>.")
    start, last, total = (int(g) for g in m.groups())
    if last < start or last >= total:
        raise UploadInvalidError(f"Content-Range {header!r} is not inside the body's {total} bytes.")
    if total > max_total:
        raise UploadInvalidError(f"The batch is {total} bytes; at most {max_total} per upload.")
    return start, last + 1, total


def append(
    folder: Path, upload_id: str, *, start: int, total: int, read: Callable[[int], bytes], size: int
) -> int:
    """Append a chunk of ``size`` bytes declared to start at ``start``, read piece by piece with
    ``read``; returns how many bytes are now held. Each piece is written as it arrives, so when the
    sender is cut off mid-chunk what did arrive is kept (the sha256 check at ingest guards the whole).
    Bytes the part already holds (a retry of a chunk that did arrive) are skipped; a chunk that would
    leave a gap, or arrives while another chunk of the same upload is being written, is refused with
    409 and the held size."""
    part, _ = _paths(folder, upload_id)
    folder.mkdir(parents=True, exist_ok=True)
    if not part.exists():
        _sweep(folder)
    with open(part, "ab") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            held = fh.seek(0, os.SEEK_END)
            raise UploadOffsetError(
                "Another chunk of this upload is still arriving; ask again in a moment.",
                details={"received": held},
            ) from None
        held = fh.seek(0, os.SEEK_END)
        if start > held:
            raise UploadOffsetError(
                f"This chunk starts at byte {start} but {held} are held; send from byte {held}.",
                details={"received": held},
            )
        if start + size > total:
            raise UploadInvalidError(f"The chunk runs past the declared total of {total} bytes.")
        skip, left = held - start, size
        try:
            while left > 0:
                piece = read(min(PIECE, left))
                if not piece:
                    break
                left -= len(piece)
                if skip >= len(piece):
                    skip -= len(piece)
                    continue
                fh.write(piece[skip:])
                skip = 0
        finally:  # also when the sender was cut off: what arrived is kept
            fh.flush()
            os.fsync(fh.fileno())
            held = fh.tell()
        return held


def complete(folder: Path, upload_id: str) -> Path:
    """The part, once it holds the whole body and hashes to its id; a damaged part is discarded."""
    part, _ = _paths(folder, upload_id)
    if not part.exists():
        raise UploadIncompleteError("Nothing of this upload is held; send it from byte 0.")
    digest = hashlib.sha256()
    with open(part, "rb") as fh:
        while block := fh.read(1024 * 1024):
            digest.update(block)
    if digest.hexdigest() != upload_id:
        part.unlink(missing_ok=True)
        raise UploadInvalidError(
            "The uploaded bytes do not hash to the upload id (incomplete or damaged); it was discarded: "
            "send it again from byte 0."
        )
    return part


def keep_answer(folder: Path, upload_id: str, answer: dict[str, Any]) -> None:
    part, kept = _paths(folder, upload_id)
    tmp = kept.with_suffix(".tmp")
    tmp.write_text(json.dumps(answer))
    os.replace(tmp, kept)
    part.unlink(missing_ok=True)


def _sweep(folder: Path) -> None:
    cutoff = time.time() - KEEP
    for path in folder.iterdir():
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except OSError:
            pass  # removed by a concurrent sweep
