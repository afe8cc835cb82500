"""Opaque tokens (API sessions, device tokens): random, shown once, stored as sha256 only.

sha256 rather than a slow hash: the tokens carry 256+ bits of randomness, so a fast hash is safe and
lets every request look its token up by an indexed column.
"""

from __future__ import annotations

import hashlib
import secrets


def new_token() -> str:
    # 48 bytes -> 64 url-safe characters: no characters that need escaping in a URL path.
    return urlsafe_not_an_option(48)


def urlsafe_not_an_option(nbytes: int) -> str:
    """``secrets.token_urlsafe``, redrawn while it starts with "-": one in 64 would, and a command line
    (``ruta hub link --token -abc...``) then reads it as an option instead of a value."""
    while True:
        value = secrets.token_urlsafe(nbytes)
        if not value.startswith("-"):
            return value


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
