"""Suggesting the canonical field for one question, from its HXL tag, its name or its label.

Evidence, strongest first: Ruta's own ``#x_<section>+<field>`` tag, a core HXL tag partners use in Kobo
(``#respondee+sex``), a known phrase in a label in any language ("Sexo do respondente", "Sèks"), a known
phrase in the question's name (``edad_jefe``). Where the question sits matters: a respondent field
suggested for a question inside the roster becomes the member field of the same name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.indicators.catalog import Catalog
from app.indicators.fields import MEMBERS
from app.indicators.hxl import EXTENSION_PREFIX, parse_hxl
from app.indicators.text import find_phrase, name_words, words
from forms.schema import Field

RUTA_TAG = 1.0
CORE_TAG = 0.9
ODK_METADATA = 0.9
LABEL_EQUALS = 0.75
LABEL_CONTAINS = 0.65
NAME_EQUALS = 0.55
NAME_CONTAINS = 0.45
AMBIGUOUS_PENALTY = 0.1

# ODK preloads: the end timestamp dates the interview; the others identify devices or people.
END_TIMESTAMP = "end"
DEVICE_METADATA = frozenset(
    {"start", "today", "deviceid", "subscriberid", "simserial", "phonenumber", "username", "email", "audit"}
)
IDENTIFYING_TYPES = frozenset({"geopoint", "geotrace", "geoshape", "binary"})
FREE_TEXT_TYPES = frozenset({"string", "barcode"})

_ORDINALS = {
    1: {
        "primera",
        "primer",
        "primero",
        "1ra",
        "1era",
        "1er",
        "primeira",
        "primeiro",
        "first",
        "1st",
        "premier",
        "premiere",
        "premye",
    },
    2: {"segunda", "segundo", "2da", "2do", "second", "2nd", "deuxieme", "dezyem"},
    3: {
        "tercera",
        "tercer",
        "tercero",
        "3ra",
        "3er",
        "terceira",
        "terceiro",
        "third",
        "3rd",
        "troisieme",
        "twazyem",
    },
}
_TRAILING_DIGIT = re.compile(r"(?<!\d)([1-9])$")


@dataclass(frozen=True)
class Candidate:
    """A suggested target for a question: a canonical key, or ``drop`` (key None)."""

    key: str | None
    confidence: float
    reason: str
    rank: int | None = None
    transform: str | None = None
    hxl: str | None = None

    @property
    def drop(self) -> bool:
        return self.key is None


def candidate(question: Field, catalog: Catalog) -> Candidate | None:
    """The best evidence for ``question`` before its place in the form (roster or not) is considered."""
    if question.name == END_TIMESTAMP and question.type in {"dateTime", "date"}:
        return Candidate(
            "submission.collected_at", ODK_METADATA, "ODK end timestamp dates the interview", transform="date"
        )
    if question.name in DEVICE_METADATA or "/meta/" in question.path:
        return Candidate(None, ODK_METADATA, "device or submission metadata: the server keeps what it needs")
    if question.type in IDENTIFYING_TYPES:
        return Candidate(
            None, ODK_METADATA, f"{question.type} answers identify people or places exactly (minimisation)"
        )
    return _from_hxl(question, catalog) or _from_text(question, catalog)


def _from_hxl(question: Field, catalog: Catalog) -> Candidate | None:
    tag = parse_hxl(question.hxl)
    if tag is None:
        return None
    if tag.hashtag.startswith(EXTENSION_PREFIX):
        section = tag.hashtag[len(EXTENSION_PREFIX) :]
        for attribute in sorted(tag.attributes):
            key = f"{section}.{attribute}"
            if key in catalog.fields:
                return Candidate(
                    key, RUTA_TAG, f"Ruta HXL tag {question.hxl}", rank=tag.rank(), hxl=question.hxl
                )
    rules = [r for r in catalog.core_hxl if r.matches(tag)]
    if rules:
        rule = max(rules, key=lambda r: len(r.tag.attributes))
        return Candidate(
            rule.field,
            CORE_TAG,
            f"core HXL tag {question.hxl} ({rule.tag})",
            rank=tag.rank(),
            hxl=question.hxl,
        )
    return None


def _from_text(question: Field, catalog: Catalog) -> Candidate | None:
    labels = [(lang or "default", words(text)) for lang, text in question.labels.items() if text]
    name = name_words(question.name)
    field_hit = _best_phrase(labels, name, catalog)
    identifier = _identifier(labels, name, catalog) if question.type in FREE_TEXT_TYPES else None
    if identifier is not None and (field_hit is None or len(identifier) >= field_hit[1]):
        return Candidate(
            None, LABEL_CONTAINS, f"looks like a direct identifier ({' '.join(identifier)!r}): drop it"
        )
    if field_hit is None:
        return None
    key, _, confidence, reason = field_hit
    return Candidate(key, confidence, reason, rank=_rank_from_text(question, labels, name))


def _best_phrase(
    labels: list[tuple[str, tuple[str, ...]]], name: tuple[str, ...], catalog: Catalog
) -> tuple[str, int, float, str] | None:
    """(field, phrase length, confidence, reason) of the longest phrase found in a label, else in the name."""
    for source, texts in (("label", labels), ("name", [("name", name)])):
        found: list[tuple[str, tuple[str, ...], str, bool]] = []
        for phrase, key in catalog.lookups.phrases:
            if found and len(phrase) < len(found[0][1]):
                break  # phrases are sorted longest first; only equally long ones can still tie
            for lang, text in texts:
                if find_phrase(text, phrase):
                    found.append((key, phrase, lang, text == phrase))
                    break
        if not found:
            continue
        key, phrase, lang, whole = found[0]
        if source == "label":
            confidence = LABEL_EQUALS if whole else LABEL_CONTAINS
            reason = f"label ({lang}) {'is' if whole else 'contains'} {' '.join(phrase)!r}"
        else:
            confidence = NAME_EQUALS if whole else NAME_CONTAINS
            reason = f"question name {'is' if whole else 'contains'} {' '.join(phrase)!r}"
        others = sorted({k for k, *_ in found} - {key})
        if others:
            confidence -= AMBIGUOUS_PENALTY
            reason += f" (also fits {', '.join(others)})"
        return key, len(phrase), confidence, reason
    return None


def _identifier(
    labels: list[tuple[str, tuple[str, ...]]], name: tuple[str, ...], catalog: Catalog
) -> tuple[str, ...] | None:
    texts = [text for _, text in labels] + [name]
    hits = [p for p in catalog.lookups.identifiers if any(find_phrase(t, p) for t in texts)]
    return max(hits, key=len) if hits else None


def _rank_from_text(
    question: Field, labels: list[tuple[str, tuple[str, ...]]], name: tuple[str, ...]
) -> int | None:
    """The rank of one of several "priority need" questions, from an ordinal word or a trailing digit."""
    texts = [text for _, text in labels] + [name]
    for rank, ordinals in _ORDINALS.items():
        if any(ordinals & set(text) for text in texts):
            return rank
    match = _TRAILING_DIGIT.search(question.name)
    return int(match.group(1)) if match else None


def place(found: Candidate, question: Field, roster: str | None, catalog: Catalog) -> Candidate | str:
    """Adjust ``found`` to where the question sits; a string says why it cannot be used there."""
    if found.drop or found.key is None:
        return found
    target = catalog.fields[found.key]
    in_roster = roster is not None and question.repeat == roster
    if in_roster and not target.is_member:
        member_key = f"{MEMBERS}.{target.name}"
        if member_key in catalog.fields:
            return Candidate(
                member_key,
                found.confidence,
                f"{found.reason}; inside the roster",
                found.rank,
                found.transform,
                found.hxl,
            )
        if not target.multi:
            return f"{found.reason}, but {found.key!r} holds one value and the question is in the roster"
    if target.is_member and not in_roster:
        return f"{found.reason}, but member field {found.key!r} needs a question inside the roster repeat"
    if not in_roster and question.repeat is not None and not target.multi:
        return f"{found.reason}, but the question is in a repeat and {found.key!r} holds one value"
    return found
