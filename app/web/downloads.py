"""The one ``Content-Disposition`` for every download (form media, attachments, exports, forms).

HTTP headers are Latin-1 at best, and a file name is whatever a form author or device chose: Arabic,
Kobo's ``test\\u202Fnarrow.png``, quotes. RFC 6266 with RFC 5987: an ASCII ``filename`` for old clients
(accents folded, anything else replaced) and the exact name, UTF-8 and percent-encoded, in ``filename*``,
which every current browser, Collect (OkHttp) and pyodk prefer.
"""

from __future__ import annotations

import unicodedata
from pathlib import PurePosixPath
from urllib.parse import quote

_UNSAFE_IN_QUOTES = set('"\\%;')


def _fold(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join("_" if c in _UNSAFE_IN_QUOTES or not c.isprintable() else c for c in folded)


def ascii_fallback(name: str) -> str:
    """``name`` folded to printable ASCII for the plain ``filename`` parameter; never empty (a name with
    no Latin letters becomes ``download`` with its extension)."""
    path = PurePosixPath(name)
    stem, suffix = _fold(path.stem).strip(), _fold(path.suffix)
    if not stem.strip("_. "):
        stem = "download"
    return stem + suffix


def content_disposition(name: str, *, inline: bool = False) -> str:
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{ascii_fallback(name)}\"; filename*=UTF-8''{quote(name, safe='')}"
