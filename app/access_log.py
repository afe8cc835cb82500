"""The access log ``ruta serve --access-log`` writes: gunicorn's, with device tokens taken out of URLs.

A device token in ``/v1/key/<token>/...`` is a credential: whoever reads it from a log can submit as
that phone. So the log line keeps the route and drops the token. The log is off by default: every
write and export is already in the audit log, and a line per request costs the busiest path (each
phone's HEAD and POST) a formatted write to stdout; a reverse proxy's log does the same job.
"""

from __future__ import annotations

import re
from typing import Any

from gunicorn.glogging import Logger

_TOKEN = re.compile(r"(/v1/key/)[^/?\s]+")


def redact(text: str) -> str:
    return _TOKEN.sub(r"\1***", text)


class RedactingLogger(Logger):
    """gunicorn's logger; the request line, path and referrer lose their device tokens."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U", "f"):
            value = atoms.get(key)
            if isinstance(value, str):
                atoms[key] = redact(value)
        return atoms
