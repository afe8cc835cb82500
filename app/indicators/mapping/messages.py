"""The mapping checker's messages: English strings that keep their template and values.

The API sends a message as it reads (English); the admin translates the template and fills in the
values at render time (``form_mapping.html``), so Spanish and Portuguese readers see the checker in
their language. ``N_`` is also the keyword ``pybabel extract`` looks for (babel.cfg reads this package).
"""

from __future__ import annotations

from typing import Any


class Message(str):
    """``template % params``, still carrying both."""

    template: str
    params: dict[str, str]

    def __new__(cls, template: str, **params: Any) -> Message:
        values = {k: str(v) for k, v in params.items()}
        made = super().__new__(cls, template % values if values else template)
        made.template, made.params = template, values
        return made


def N_(template: str, **params: Any) -> Message:
    return Message(template, **params)


def parts(message: str) -> tuple[str, dict[str, str]]:
    """The template and values of ``message`` (a plain string is its own template)."""
    if isinstance(message, Message):
        return message.template, dict(message.params)
    return str(message), {}
