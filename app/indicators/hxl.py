"""HXL hashtags as Ruta reads them from a form's ``hxl`` column.

HXL tags are case-insensitive and their attributes unordered, so a tag is compared as a hashtag plus a
set of attributes. Ruta's own forms use the extension convention ``#x_<section>+<field>`` for canonical
fields (``#x_respondent+sex_gender``); extra attributes qualify it (``#x_needs+priority_needs+rank2``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TAG = re.compile(r"^#([a-z][a-z0-9_]*)((?:\s*\+\s*[a-z][a-z0-9_]*)*)$")
_RANK = re.compile(r"^rank([1-9])$")
EXTENSION_PREFIX = "x_"


@dataclass(frozen=True)
class HxlTag:
    """A parsed hashtag: ``hashtag`` without ``#``, ``attributes`` without ``+``, all lower case."""

    hashtag: str
    attributes: frozenset[str]

    def __str__(self) -> str:
        return "#" + self.hashtag + "".join(f"+{a}" for a in sorted(self.attributes))

    def rank(self) -> int | None:
        """The rank carried as ``+rankN`` (ranked multi-selects such as priority needs), if any."""
        for attribute in self.attributes:
            match = _RANK.match(attribute)
            if match:
                return int(match.group(1))
        return None


def parse_hxl(text: str | None) -> HxlTag | None:
    """Parse ``"#Respondee +Sex"``; None for an empty or malformed tag (forms carry free text too)."""
    if not text:
        return None
    match = _TAG.match(text.strip().lower())
    if not match:
        return None
    attributes = frozenset(a.strip() for a in match.group(2).split("+") if a.strip())
    return HxlTag(match.group(1), attributes)


def canonical_tag(field_key: str) -> str:
    """The ``#x_`` tag of a canonical field: ``respondent.sex_gender`` -> ``#x_respondent+sex_gender``."""
    section, name = field_key.split(".", 1)
    return f"#{EXTENSION_PREFIX}{section}+{name}"
