"""Password hashing (argon2id via argon2-cffi) and the Digest HA1 that device endpoints need."""

from __future__ import annotations

import hashlib

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from app.auth import tokens

_hasher = PasswordHasher()


def use_fast_hashing_for_tests() -> None:
    """Cheap argon2 parameters; the test suite hashes hundreds of passwords. Never used in production."""
    global _hasher
    _hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    if not stored_hash:
        return False
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


def digest_ha1(username: str, realm: str, password: str) -> str:
    """RFC 7616's HA1 = md5(username:realm:password), the only thing Digest verification needs."""
    return hashlib.md5(f"{username}:{realm}:{password}".encode()).hexdigest()


def generate_password() -> str:
    """A password for a person to read once and type: 20 url-safe characters (never a leading "-",
    which a command line would take for an option)."""
    return tokens.urlsafe_not_an_option(15)
