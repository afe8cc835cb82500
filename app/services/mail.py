"""Outgoing e-mail, only when an SMTP server is configured (``RUTA_SMTP_HOST`` and friends).

Ruta works without e-mail (field offices often have none); this is a convenience on top: a password
reset code is always shown to the administrator, and also mailed when a server is set.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    user: str | None
    password: str | None
    starttls: bool
    timeout: float = 10.0

    @classmethod
    def from_config(cls, config: dict[str, Any] | Any) -> SmtpSettings | None:
        host = config.get("SMTP_HOST")
        if not host:
            return None
        return cls(
            host=str(host),
            port=int(config.get("SMTP_PORT") or 25),
            sender=str(config.get("SMTP_FROM") or "ruta@localhost"),
            user=config.get("SMTP_USER") or None,
            password=config.get("SMTP_PASSWORD") or None,
            starttls=bool(config.get("SMTP_STARTTLS")),
        )


def send(settings: SmtpSettings, *, to: str, subject: str, body: str) -> None:
    """Send one plain-text message; ``OSError``/``smtplib.SMTPException`` reach the caller, which
    decides whether a failed send matters."""
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
        if settings.starttls:
            smtp.starttls()
        if settings.user:
            smtp.login(settings.user, settings.password or "")
        smtp.send_message(message)
