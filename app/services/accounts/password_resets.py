"""One-time password reset codes an administrator issues, so a person can set a new password in the
field without e-mail (the admin reads the code out or sends the link by whatever channel works).

A code is 80 random bits written as 16 base32 characters (ABCD-EFGH-JKLM-NPQR): short enough to read
over a phone, far too many to guess within the login limit. Only its sha256 is stored. Redeeming it sets
the password, which ends every session of the person (``accounts.change_password``), and spends every
code the person had.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.db import utcnow
from app.errors import AuthenticationFailedError
from app.models import PasswordReset, User
from app.services.accounts import people as accounts
from app.services.audit import events as audit

VALID_FOR = timedelta(hours=24)


def _normalise(code: str) -> str:
    return "".join(c for c in (code or "").upper() if c.isalnum())


def _hash(code: str) -> str:
    return hashlib.sha256(_normalise(code).encode()).hexdigest()


def issue(session: Session, *, actor: Actor, user: User) -> str:
    """A new code for ``user`` (earlier unspent ones stop working): returned once, to show."""
    now = utcnow()
    session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
    )
    raw = base64.b32encode(secrets.token_bytes(10)).decode()
    code = "-".join(raw[i : i + 4] for i in range(0, 16, 4))
    session.add(
        PasswordReset(
            user_id=user.id,
            token_hash=_hash(code),
            created_by_id=actor.user_id,
            created_at=now,
            expires_at=now + VALID_FOR,
        )
    )
    session.flush()
    audit.record(
        session, actor=actor, action="user.password.reset_issued", subject_type="user", subject_id=user.id
    )
    return code


def redeem(session: Session, *, code: str, password: str, realm: str) -> User:
    """Set a new password with ``code``; an unknown, spent or expired code is a failed login (the
    caller counts it against the address's login limit)."""
    if len(_normalise(code)) != 16:
        raise AuthenticationFailedError()
    row = session.scalar(select(PasswordReset).where(PasswordReset.token_hash == _hash(code)))
    now = utcnow()
    if row is None or row.used_at is not None or row.expires_at <= now:
        raise AuthenticationFailedError()
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise AuthenticationFailedError()
    accounts.check_password_strength(password)
    row.used_at = now
    accounts.change_password(session, actor=Actor(user=user), user=user, password=password, realm=realm)
    audit.record(
        session,
        actor=Actor(user=user),
        action="user.password.reset_used",
        subject_type="user",
        subject_id=user.id,
    )
    return user
