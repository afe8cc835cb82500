"""The one way Ruta parses XML that came from outside.

Every XForm and every submission is untrusted input. defusedxml refuses DTDs, entity declarations and
external references outright, which covers billion-laughs expansion and XXE; nothing a real ODK client
sends needs a DTD, so refusing them costs no valid input.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as DET
from defusedxml import DefusedXmlException


class UnsafeXMLError(ValueError):
    """The document declares a DTD, entities or external references; it was not parsed."""


class MalformedXMLError(ValueError):
    """The document is not well-formed XML; ``str(err)`` says where, as the parser reported it."""


# The deepest nesting accepted. Real forms and submissions nest groups and repeats a dozen levels; the
# code that walks them (value extraction, ``itertext``, serialisers) recurses once per level, so a
# document 2,000 levels deep would exhaust Python's recursion limit far from here. Refused at the door.
MAX_DEPTH = 200


def _too_deep(root: Element, limit: int) -> bool:
    level = [root]
    for _ in range(limit):
        level = [child for element in level for child in element]
        if not level:
            return False
    return True


def parse(data: bytes) -> Element:
    """Parse ``data`` into an ElementTree element, refusing anything with a DTD or entities."""
    if not data or not data.strip():
        raise MalformedXMLError("the document is empty")
    try:
        root = DET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as err:
        raise UnsafeXMLError(
            "XML with a DOCTYPE, entity declarations or external references is not accepted "
            f"({type(err).__name__})"
        ) from err
    except ParseError as err:
        raise MalformedXMLError(f"not well-formed XML: {err}") from err
    if _too_deep(root, MAX_DEPTH):
        raise MalformedXMLError(f"elements are nested more than {MAX_DEPTH} levels deep")
    return root


def local_name(tag: object) -> str:
    """``{namespace}name`` -> ``name``; ODK clients vary namespaces, so Ruta matches on local names."""
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def namespace(tag: str) -> str:
    """``{namespace}name`` -> ``namespace`` (empty when there is none)."""
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""
