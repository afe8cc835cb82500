"""Text folding for matching labels, names and variants across es / pt / en / fr / ht.

Partners write the same answer as "Femenino", "FEMININO", "féminin" or "Femme:"; matching is done on a
folded form (accents removed, case folded, punctuation turned into spaces) so lookups need one entry per
word, not per spelling.
"""

from __future__ import annotations

import re
import unicodedata

# Ligatures NFKD leaves alone but French labels use ("œufs").
_LIGATURES = str.maketrans({"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae"})
_NON_WORD = re.compile(r"[^0-9a-z]+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


def fold(text: str) -> str:
    """Lower-case ASCII words separated by single spaces: ``"¿Sèks?"`` -> ``"seks"``."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_LIGATURES))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NON_WORD.sub(" ", stripped.casefold()).strip()


def words(text: str) -> tuple[str, ...]:
    """The folded words of a label."""
    folded = fold(text)
    return tuple(folded.split()) if folded else ()


def name_words(name: str) -> tuple[str, ...]:
    """The words of a question name: ``"edadJefe_1"`` -> ``("edad", "jefe")``; digits separate words
    and are dropped because they number questions rather than name them."""
    spaced = _CAMEL.sub(" ", name)
    return tuple(w for w in words(spaced) if not w.isdigit())


def find_phrase(haystack: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    """True when ``phrase`` occurs as consecutive words of ``haystack``."""
    size = len(phrase)
    if size == 0 or size > len(haystack):
        return False
    return any(haystack[i : i + size] == phrase for i in range(len(haystack) - size + 1))
