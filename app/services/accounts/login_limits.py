"""Login limits: how many wrong passwords a client address may send (``RUTA_LOGIN_RATE_LIMIT``, e.g.
``10 per minute;50 per hour``) before every password login from it is refused for a while.

The count is shared by every worker and app server: rows in ``login_failures``, or a sorted set per
address in Redis when ``RUTA_REDIS_URL`` is set. A moving window: an address is refused while, for some
limit, that many failures fall within its window; ``retry_after`` says when the oldest of them leaves it.
Checking and counting are two steps, so clients guessing in parallel can pass a limit by at most their
own concurrency before the refusals start.
"""

from __future__ import annotations

import ipaddress
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.models import LoginFailure

_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_LIMIT = re.compile(r"^\s*(\d+)\s*(?:per|/)\s*(\d+)?\s*(second|minute|hour|day)s?\s*$")


@dataclass(frozen=True)
class Limit:
    amount: int
    seconds: int


@lru_cache(maxsize=16)
def parse_limits(text: str) -> tuple[Limit, ...]:
    """``10 per minute;50 per hour`` (also ``10/minute``, ``5 per 10 minutes``; ``;`` or ``,`` between)."""
    limits = []
    for part in re.split(r"[;,]", text):
        if not part.strip():
            continue
        match = _LIMIT.match(part.lower())
        if match is None:
            raise ValueError(f"{part.strip()!r} is not a limit like '10 per minute'")
        amount, count, unit = match.groups()
        limits.append(Limit(int(amount), int(count or 1) * _UNITS[unit]))
    if not limits:
        raise ValueError("no login limit given")
    return tuple(limits)


def client_key(address: str | None) -> str:
    """The address failures are counted against: IPv4 as is, IPv6 by its /64 network."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return (address or "unknown")[:64]
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def retry_after(limits: tuple[Limit, ...], failures: list[datetime], now: datetime) -> int | None:
    """Seconds until the address may try again, or None when it may try now."""
    wait = 0.0
    for limit in limits:
        recent = sorted(t for t in failures if t > now - timedelta(seconds=limit.seconds))
        if len(recent) >= limit.amount:
            # Allowed again once enough of them have left the window.
            leaves = recent[len(recent) - limit.amount] + timedelta(seconds=limit.seconds)
            wait = max(wait, (leaves - now).total_seconds())
    return max(1, math.ceil(wait)) if wait > 0 else None


class FailureStore(Protocol):
    def since(self, session: Session, key: str, start: datetime) -> list[datetime]: ...

    def add(self, session: Session, key: str, at: datetime, horizon: timedelta) -> None: ...


class DatabaseStore:
    """Failures as rows, read and written in the caller's session (the caller commits)."""

    def since(self, session: Session, key: str, start: datetime) -> list[datetime]:
        query = select(LoginFailure.failed_at).where(
            LoginFailure.client_key == key, LoginFailure.failed_at > start
        )
        return list(session.scalars(query))

    def add(self, session: Session, key: str, at: datetime, horizon: timedelta) -> None:
        session.execute(delete(LoginFailure).where(LoginFailure.failed_at < at - horizon))
        session.add(LoginFailure(client_key=key, failed_at=at))
        session.flush()


class RedisStore:
    """Failures as a sorted set per address (score: the time), expiring with the longest window."""

    def __init__(self, client: Any, prefix: str = "ruta:login-failures:") -> None:
        self.client = client
        self.prefix = prefix

    def since(self, session: Session, key: str, start: datetime) -> list[datetime]:
        scores = self.client.zrangebyscore(self.prefix + key, start.timestamp(), "+inf", withscores=True)
        return [datetime.fromtimestamp(score, start.tzinfo) for _member, score in scores]

    def add(self, session: Session, key: str, at: datetime, horizon: timedelta) -> None:
        name = self.prefix + key
        stamp = at.timestamp()
        pipe = self.client.pipeline()
        pipe.zremrangebyscore(name, "-inf", stamp - horizon.total_seconds())
        pipe.zadd(name, {f"{stamp:.6f}:{secrets.token_hex(4)}": stamp})
        pipe.expire(name, math.ceil(horizon.total_seconds()))
        pipe.execute()


class LoginLimiter:
    """The limits as configured (parsed on each use, so a changed setting applies at once) over a store."""

    def __init__(self, store: FailureStore) -> None:
        self.store = store

    @staticmethod
    def _horizon(limits: tuple[Limit, ...]) -> timedelta:
        return timedelta(seconds=max(limit.seconds for limit in limits))

    def retry_after(self, session: Session, key: str, setting: str) -> int | None:
        """None when ``key`` may try a password now, else the seconds to wait."""
        limits = parse_limits(setting)
        now = utcnow()
        return retry_after(limits, self.store.since(session, key, now - self._horizon(limits)), now)

    def record_failure(self, session: Session, key: str, setting: str) -> None:
        self.store.add(session, key, utcnow(), self._horizon(parse_limits(setting)))
