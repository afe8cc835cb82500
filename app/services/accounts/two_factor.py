"""Optional two-factor login (RFC 6238 TOTP, via pyotp) and its one-use recovery codes.

Enrolment is two steps: a new secret is shown (as a QR code and as text) and only becomes the person's
once they type a code their authenticator app made from it, so a mistyped or unscanned secret cannot
lock anyone out. Each accepted code's time step is remembered: a code seen once (over a shoulder, in a
proxy log) cannot log in again. Recovery codes are random, shown once, and kept as argon2 hashes.
"""

from __future__ import annotations

import re
import secrets

import pyotp
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.auth import passwords
from app.auth.actor import Actor
from app.db import utcnow
from app.errors import InvalidValueError
from app.models import RecoveryCode, User
from app.services.audit import events as audit

ISSUER = "Ruta"
RECOVERY_CODES = 10
# Alphabet without look-alikes (0/O, 1/I/L): recovery codes are read off paper.
_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
_DIGITS = re.compile(r"^\d{6}$")


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def is_enabled(user: User) -> bool:
    return user.totp_secret is not None and user.totp_enabled_at is not None


def _clean(code: str) -> str:
    return re.sub(r"[\s-]", "", code or "").upper()


def _accepted_step(secret: str, code: str, after: int | None) -> int | None:
    """The time step ``code`` belongs to (this one or a neighbour, for clocks a little off), if it is
    valid and later than ``after``."""
    code = _clean(code)
    if not _DIGITS.match(code):
        return None
    totp = pyotp.TOTP(secret)
    now = totp.timecode(utcnow())
    for step in (now, now - 1, now + 1):
        if (after is None or step > after) and secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _new_recovery_codes(session: Session, user: User) -> list[str]:
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        session.add(RecoveryCode(user_id=user.id, code_hash=passwords.hash_password(raw)))
    return codes


def enable(session: Session, *, actor: Actor, user: User, secret: str, code: str) -> list[str] | None:
    """Turn two-factor login on once ``code`` matches ``secret``; the new recovery codes, to show once
    (None: the code did not match)."""
    step = _accepted_step(secret, code, None)
    if step is None:
        return None
    user.totp_secret = secret
    user.totp_enabled_at = utcnow()
    user.totp_last_step = step
    codes = _new_recovery_codes(session, user)
    session.flush()
    audit.record(session, actor=actor, action="user.totp.enable", subject_type="user", subject_id=user.id)
    return codes


def disable(session: Session, *, actor: Actor, user: User) -> None:
    """Two-factor login off (by the person, or by an administrator when the phone and codes are lost)."""
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    session.flush()
    audit.record(session, actor=actor, action="user.totp.disable", subject_type="user", subject_id=user.id)


def regenerate_recovery_codes(session: Session, *, actor: Actor, user: User) -> list[str]:
    if not is_enabled(user):
        raise InvalidValueError("Two-factor login is not on for this account.")
    codes = _new_recovery_codes(session, user)
    session.flush()
    audit.record(
        session, actor=actor, action="user.totp.recovery_codes", subject_type="user", subject_id=user.id
    )
    return codes


def unused_recovery_codes(session: Session, user: User) -> int:
    return len(
        list(
            session.scalars(
                select(RecoveryCode.id).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
            )
        )
    )


def verify(session: Session, *, user: User, code: str) -> str | None:
    """Check the login's second step: a current TOTP code, or an unused recovery code (which is then
    spent). What was used ("totp" or "recovery"), or None."""
    if not is_enabled(user):
        return None
    assert user.totp_secret is not None
    step = _accepted_step(user.totp_secret, code, user.totp_last_step)
    if step is not None:
        user.totp_last_step = step
        session.flush()
        return "totp"
    cleaned = _clean(code)
    if len(cleaned) != 10 or any(c not in _ALPHABET for c in cleaned):
        return None
    for row in session.scalars(
        select(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    ):
        if passwords.verify_password(row.code_hash, cleaned):
            row.used_at = utcnow()
            session.flush()
            audit.record(
                session,
                actor=Actor(user=user),
                action="user.totp.recovery_used",
                subject_type="user",
                subject_id=user.id,
            )
            return "recovery"
    return None
