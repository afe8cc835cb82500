"""Small edits to XForm bytes that keep everything else byte for byte: set the version string of the
primary instance, and add the encryption public key.

Re-serialising the whole document would change bytes a form designer did not touch (attribute order,
namespace prefixes, whitespace); devices compare md5 hashes, so Ruta edits only the one tag it must.
"""

from __future__ import annotations

import re
from xml.sax.saxutils import quoteattr

from forms import safe_xml

_INSTANCE_OPEN = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?instance(?=[\s>/])[^>]*>")
_ELEMENT_OPEN = re.compile(rb"<(?![?!/])[A-Za-z_][\w.:-]*(?:\s[^>]*)?/?>")
_VERSION_ATTR = re.compile(rb"""(\s)version\s*=\s*("[^"]*"|'[^']*')""")
_MODEL_CLOSE = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?model\s*>")
XFORMS_NS = "http://www.w3.org/2002/xforms"


class RewriteError(ValueError):
    pass


def _primary_root_span(xml: bytes) -> tuple[int, int]:
    match = _INSTANCE_OPEN.search(xml)
    if match is None:
        raise RewriteError("the XForm has no <instance> in its model")
    # Skip comments/whitespace to the first element inside the primary instance.
    root = _ELEMENT_OPEN.search(xml, match.end())
    if root is None:
        raise RewriteError("the primary instance has no root element")
    return root.start(), root.end()


def set_version(xml: bytes, version: str) -> bytes:
    """Set (or add) ``version="..."`` on the primary instance's root element."""
    if any(ord(c) < 32 for c in version) or len(version) > 255:
        raise RewriteError("a version string is at most 255 printable characters")
    start, end = _primary_root_span(xml)
    tag = xml[start:end]
    value = quoteattr(version).encode()
    if _VERSION_ATTR.search(tag):
        new_tag = _VERSION_ATTR.sub(lambda m: m.group(1) + b"version=" + value, tag, count=1)
    else:
        close = -2 if tag.endswith(b"/>") else -1
        new_tag = tag[:close] + b" version=" + value + tag[close:]
    out = xml[:start] + new_tag + xml[end:]
    safe_xml.parse(out)  # the edit must leave a well-formed document
    return out


def add_public_key(xml: bytes, public_key_b64: str) -> bytes:
    """Make the form encrypted: add ``<submission base64RsaPublicKey=...>`` to the model.

    The element declares the XForms namespace itself, so it is right whatever prefix the form uses.
    """
    matches = list(_MODEL_CLOSE.finditer(xml))
    if not matches:
        raise RewriteError("the XForm has no </model>")
    close = matches[0]
    element = (
        f'<submission xmlns="{XFORMS_NS}" method="post" base64RsaPublicKey={quoteattr(public_key_b64)} />'
    ).encode()
    out = xml[: close.start()] + element + xml[close.start() :]
    safe_xml.parse(out)
    return out
