"""A short per-process memory of device tokens that just passed the submission probe (HEAD).

Collect sends a HEAD before every POST. Answering it from memory for a moment saves two queries and a
transaction per submission. It is only ever a yes, held at most ``TTL_SECONDS``; the POST after it is
always checked against the database, so nothing is stored with a revoked token. Revoking or reissuing
a token forgets every entry in this process at once (other processes forget theirs within the TTL, and
their POSTs are refused at once all the same).
"""

from __future__ import annotations

import time

TTL_SECONDS = 2.0
MAX_ENTRIES = 4096

# (token, project id) -> monotonic expiry. Plain dict operations are atomic under the GIL, so the
# threads of one worker can share it without a lock; a lost race only costs one database check.
_ok: dict[tuple[str, int], float] = {}


def recently_allowed(token: str, project_id: int) -> bool:
    expiry = _ok.get((token, project_id))
    if expiry is None:
        return False
    if expiry < time.monotonic():
        _ok.pop((token, project_id), None)
        return False
    return True


def remember_allowed(token: str, project_id: int) -> None:
    if len(_ok) >= MAX_ENTRIES:
        _ok.clear()
    _ok[(token, project_id)] = time.monotonic() + TTL_SECONDS


def forget_all() -> None:
    """A token was revoked or replaced: no probe may be answered from memory any more."""
    _ok.clear()
