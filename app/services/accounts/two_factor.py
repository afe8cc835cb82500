"""Optional two-factor login (RFC 6238 TOTP, via pyotp) and its one-use recovery codes.

Enrolment is two steps: a new secret is shown (as a QR code and as text) and only becomes the person's
once they type a code their authenticator app made from it, so a mistyped or unscanned secret cannot
lock anyone out. Each accepted code's time step is remembered: a code seen once (over a shoulder, in a
proxy log) cannot log in again. Recovery codes are random, shown once, and kept as argon2 hashes.
The secret is stored sealed (``app/auth/secret_box.py``); the caller passes the app's box.

The second step guards every password login of a person who turned it on: the admin's login form and
``POST /v1/sessions`` ask for the code, and HTTP Basic and Digest (which have no place for one) are
refused for them (``require_no_second_factor``).
"""

from __future__ import annotations

import re
import secrets

import pyotp
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.auth import passwords
from app.auth.actor import Actor
from app.auth.secret_box import SecretBox
from app.db import utcnow
from app.errors import AuthenticationFailedError, InvalidValueError
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


def enable(
    session: Session, *, actor: Actor, user: User, secret: str, code: str, box: SecretBox
) -> list[str] | None:
    """Turn two-factor login on once ``code`` matches ``secret``; the new recovery codes, to show once
    (None: the code did not match)."""
    step = _accepted_step(secret, code, None)
    if step is None:
        return None
    user.totp_secret = box.seal(secret)
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


def verify(session: Session, *, user: User, code: str, box: SecretBox) -> str | None:
    """Check the login's second step: a current TOTP code, or an unused recovery code (which is then
    spent). What was used ("totp" or "recovery"), or None."""
    if not is_enabled(user):
        return None
    assert user.totp_secret is not None
    step = _accepted_step(box.open(user.totp_secret), code, user.totp_last_step)
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


class SecondFactorRequiredError(AuthenticationFailedError):
    code = "401.17"
    default_message = (
        "This account has two-factor login on: send the current code from the authenticator app (or a "
        "recovery code) as 'code' with the email and password."
    )


class SecondFactorNotPossibleError(AuthenticationFailedError):
    code = "401.18"
    default_message = (
        "This account has two-factor login on, which HTTP Basic and Digest cannot carry. Log in with "
        "POST /v1/sessions (email, password and 'code') and send the bearer token, or use an app user "
        "(device credential) for devices and scripts."
    )


def second_step(session: Session, *, user: User, code: object, box: SecretBox) -> None:
    """The second step of an API password login (``POST /v1/sessions``): nothing for a person without
    two-factor login; else a 401 unless ``code`` is a good TOTP or recovery code."""
    if not is_enabled(user):
        return
    if not isinstance(code, str) or not code.strip():
        raise SecondFactorRequiredError()
    if verify(session, user=user, code=code, box=box) is None:
        raise AuthenticationFailedError("The two-factor code is not right. Send the current one.")


def require_no_second_factor(user: User) -> None:
    """Basic and Digest have no field for a code: a person with two-factor login on is refused there,
    after the password was checked (so a wrong password still answers the plain 401)."""
    if is_enabled(user):
        raise SecondFactorNotPossibleError()


def rekey(session: Session, *, box: SecretBox) -> int:
    """Every stored secret encrypted again with the box's first key (after a key rotation); how many."""
    changed = 0
    for user in session.scalars(select(User).where(User.totp_secret.is_not(None))):
        assert user.totp_secret is not None
        user.totp_secret = box.rekey(user.totp_secret)
        changed += 1
    session.flush()
    return changed
