"""Secrets Ruta must read back (TOTP seeds), encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256).

A database dump or backup alone then no longer lets anyone make a person's second-factor codes.

Keys: every key is a passphrase of any length, stretched to a Fernet key with HKDF-SHA256, so an
operator can paste any long random string. ``RUTA_TOTP_KEYS`` is a comma-separated list: the first
key encrypts, every key decrypts. Without it, the key is derived from ``RUTA_SECRET_KEY`` (the
generated ``<instance>/secret_key`` by default), which is always tried last for decryption.

Rotation (docs/OPERATIONS.md): put the new key first in ``RUTA_TOTP_KEYS`` and keep the old one after
it (or the secret key, which is always tried), restart, run ``ruta totp-rekey`` to re-encrypt every
secret with the new key, then drop the old key. Changing ``RUTA_SECRET_KEY`` without first naming the
old value in ``RUTA_TOTP_KEYS`` leaves enrolled people unable to pass the second step; an
administrator can then turn their two-factor login off so they enrol again.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# What a sealed value starts with, so a stored plaintext (a database restored from before migration
# 0024) is told apart from a sealed one rather than sent to Fernet.
PREFIX = "f1:"


class SecretBoxError(Exception):
    """A sealed value none of the configured keys opens."""


def _fernet(passphrase: str) -> Fernet:
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"ruta totp secrets").derive(
        passphrase.encode("utf-8")
    )
    return Fernet(base64.urlsafe_b64encode(raw))


class SecretBox:
    def __init__(self, passphrases: list[str]) -> None:
        if not passphrases:
            raise ValueError("A secret box needs at least one key.")
        self._multi = MultiFernet([_fernet(p) for p in passphrases])

    def seal(self, plaintext: str) -> str:
        return PREFIX + self._multi.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def open(self, sealed: str) -> str:
        if not sealed.startswith(PREFIX):
            raise SecretBoxError("The value is not sealed.")
        try:
            return self._multi.decrypt(sealed[len(PREFIX) :].encode("ascii")).decode("utf-8")
        except InvalidToken as err:
            raise SecretBoxError(
                "No configured key opens this secret: RUTA_TOTP_KEYS or RUTA_SECRET_KEY changed."
            ) from err

    def rekey(self, sealed: str) -> str:
        """``sealed`` encrypted again with the first key."""
        return self.seal(self.open(sealed))


def passphrases(config: Mapping[str, Any]) -> list[str]:
    """The keys ``config`` names, the encrypting one first."""
    listed = [k.strip() for k in str(config.get("TOTP_KEYS") or "").split(",") if k.strip()]
    secret_key = str(config.get("SECRET_KEY") or "")
    return listed + ([secret_key] if secret_key and secret_key not in listed else [])


@lru_cache(maxsize=16)
def _box(keys: tuple[str, ...]) -> SecretBox:
    return SecretBox(list(keys))


def box_for(config: Mapping[str, Any]) -> SecretBox:
    """The box of an app's configuration (cached: HKDF runs once per key set)."""
    return _box(tuple(passphrases(config)))
