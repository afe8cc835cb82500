"""A short memory of device tokens that just passed the submission probe (HEAD).

Collect sends a HEAD before every POST. Answering it from memory for a moment saves two queries and a
transaction per submission. It is only ever a yes, held at most ``TTL_SECONDS``; the POST after it is
always checked against the database, so nothing is stored with a revoked token. Revoking or reissuing
a token forgets every entry at once.

Where the memory lives: with ``RUTA_REDIS_URL`` set (several app servers), in Redis, shared by every
server, so a revocation on one is seen by all at once (entries are keyed by the token's hash, never the
token); without it (one server), in this process.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from typing import Any

TTL_SECONDS = 2.0
MAX_ENTRIES = 4096
PREFIX = "ruta:probe:"

# (token, project id) -> monotonic expiry. Plain dict operations are atomic under the GIL, so the
# threads of one worker can share it without a lock; a lost race only costs one database check.
_ok: dict[tuple[str, int], float] = {}
_redis: Any = None  # a redis.Redis client when configured (``configure``)


def configure(redis_url: str | None) -> None:
    """Called by the app factory: Redis when a URL is given, else this process's memory."""
    global _redis
    if not redis_url:
        _redis = None
        return
    import redis

    _redis = redis.Redis.from_url(redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)


def _key(token: str, project_id: int) -> str:
    return f"{PREFIX}{hashlib.sha256(token.encode()).hexdigest()[:40]}:{project_id}"


def recently_allowed(token: str, project_id: int) -> bool:
    if _redis is not None:
        try:
            return bool(_redis.exists(_key(token, project_id)))
        except Exception:  # Redis away: no yes from memory, the database decides
            return False
    expiry = _ok.get((token, project_id))
    if expiry is None:
        return False
    if expiry < time.monotonic():
        _ok.pop((token, project_id), None)
        return False
    return True


def remember_allowed(token: str, project_id: int) -> None:
    if _redis is not None:
        with contextlib.suppress(Exception):  # Redis away: only a missed saving
            _redis.set(_key(token, project_id), b"1", px=int(TTL_SECONDS * 1000))
        return
    if len(_ok) >= MAX_ENTRIES:
        _ok.clear()
    _ok[(token, project_id)] = time.monotonic() + TTL_SECONDS


def forget_all() -> None:
    """A token was revoked or replaced: no probe may be answered from memory any more (revocations
    are rare, and entries live two seconds, so a scan of the few keys is cheap)."""
    _ok.clear()
    if _redis is not None:
        keys = list(_redis.scan_iter(match=PREFIX + "*", count=1000))
        if keys:
            _redis.delete(*keys)
