"""Code lists (canonical vocabularies, INDICATORS.md §2) and how they are read from ``codelists/*.yaml``.

A code list is a set of codes with labels in every required language and optional attributes
(``age_min``, ``risky``, ``sensitive`` ...). Roll-ups (``age_band`` ``0_17``) are reporting unions of
codes and never stored on a record; groups (the nutrition month groups) are reporting codes derived from
another value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.indicators.errors import ProblemLog

# Every label must exist in these; Haitian Creole (ht) is welcome but optional.
REQUIRED_LANGUAGES: tuple[str, ...] = ("es", "en", "pt", "fr")
LANGUAGES: tuple[str, ...] = (*REQUIRED_LANGUAGES, "ht")

# Answers that say nothing about the question: denominators exclude them (§3, "Denominators exclude
# don't know and refused"); unknown-type fallbacks count as missing for the same reason.
DK_REFUSED = frozenset({"dk", "refused"})
NON_SUBSTANTIVE = DK_REFUSED | {"unknown", "u", "XXX"}

CODE = "code"
ROLLUP = "rollup"
GROUP = "group"


@dataclass(frozen=True)
class Code:
    """One code: ``kind`` is ``code`` (storable), ``rollup`` (union of ``members``) or ``group``."""

    code: str
    labels: Mapping[str, str]
    attrs: Mapping[str, Any] = field(default_factory=dict)
    kind: str = CODE
    members: tuple[str, ...] = ()

    def label(self, language: str = "en") -> str:
        return self.labels.get(language) or self.labels["en"]


@dataclass(frozen=True)
class CodeList:
    """A vocabulary. ``unmapped`` is the code an unrecognised value becomes (``u``, ``XXX``, ``other``,
    ``unknown``), or None when the list has none and such a value stays missing."""

    name: str
    description: str
    codes: tuple[Code, ...]
    unmapped: str | None = None
    sensitive: bool = False

    @property
    def values(self) -> tuple[str, ...]:
        """The storable codes, in catalogue order."""
        return tuple(c.code for c in self.codes if c.kind == CODE)

    def get(self, code: str) -> Code | None:
        return next((c for c in self.codes if c.code == code), None)

    def is_code(self, value: object) -> bool:
        return isinstance(value, str) and value in self.values

    def find(self, value: str) -> str | None:
        """The storable code equal to ``value`` ignoring case (``"ven"`` -> ``VEN``), if any."""
        lowered = value.strip().lower()
        return next((c for c in self.values if c.lower() == lowered), None)

    def expand(self, code: str) -> tuple[str, ...]:
        """The storable codes a reporting code stands for (a roll-up's members, or the code itself)."""
        entry = self.get(code)
        return entry.members if entry is not None and entry.kind == ROLLUP else (code,)

    def with_attr(self, attr: str) -> tuple[str, ...]:
        """The storable codes whose attribute ``attr`` is true (``risky`` transport modes ...)."""
        return tuple(c.code for c in self.codes if c.kind == CODE and c.attrs.get(attr) is True)


def load_codelist(data: object, file: str, log: ProblemLog) -> CodeList | None:
    """Build a code list from one parsed YAML document, recording every problem in ``log``."""
    if not isinstance(data, dict):
        log.add(file, "", "a code list file must be a mapping with name and codes")
        return None
    name = data.get("name")
    if not isinstance(name, str) or not name:
        log.add(file, "name", "missing code list name")
        return None
    entries: list[Code] = []
    for section, kind in (("codes", CODE), ("rollups", ROLLUP), ("groups", GROUP)):
        raw = data.get(section, [])
        if section == "codes" and not raw:
            log.add(file, "codes", "a code list needs at least one code")
        if not isinstance(raw, list):
            log.add(file, section, "must be a list")
            continue
        for index, item in enumerate(raw):
            code = _load_code(item, kind, f"{section}[{index}]", file, log)
            if code is not None:
                entries.append(code)
    seen: set[str] = set()
    for entry in entries:
        if entry.code in seen:
            log.add(file, f"codes.{entry.code}", "duplicate code")
        seen.add(entry.code)
    storable = {e.code for e in entries if e.kind == CODE}
    for entry in entries:
        for member in entry.members:
            if member not in storable:
                log.add(file, f"rollups.{entry.code}.members", f"unknown code {member!r}")
    unmapped = data.get("unmapped")
    if unmapped is not None and unmapped not in storable:
        log.add(file, "unmapped", f"unknown code {unmapped!r}")
    _check_distinct_labels(entries, file, log)
    return CodeList(
        name=name,
        description=str(data.get("description", "")),
        codes=tuple(entries),
        unmapped=unmapped if isinstance(unmapped, str) else None,
        sensitive=data.get("sensitive") is True,
    )


def _load_code(item: object, kind: str, key: str, file: str, log: ProblemLog) -> Code | None:
    if not isinstance(item, dict):
        log.add(file, key, "each code must be a mapping with code and label")
        return None
    code = item.get("code")
    if not isinstance(code, str) or not code:
        # YAML 1.1 reads 0_4 as an integer and no as false: say how to fix it.
        log.add(file, f"{key}.code", f"code must be a non-empty string (got {code!r}); quote it in YAML")
        return None
    labels = item.get("label")
    where = f"codes.{code}.label"
    if not isinstance(labels, dict):
        log.add(file, where, "missing labels")
        labels = {}
    clean: dict[str, str] = {}
    for language, text in labels.items():
        if language not in LANGUAGES:
            log.add(file, where, f"unknown language {language!r} (a comma in an unquoted label?)")
        elif not isinstance(text, str) or not text.strip():
            log.add(file, f"{where}.{language}", f"label must be a non-empty string (got {text!r})")
        else:
            clean[language] = text
    for language in REQUIRED_LANGUAGES:
        if language not in labels:
            log.add(file, where, f"missing {language} label")
    members = item.get("members", [])
    if kind == ROLLUP and (not isinstance(members, list) or not members):
        log.add(file, f"rollups.{code}.members", "a roll-up needs a list of member codes")
        members = []
    attrs = {k: v for k, v in item.items() if k not in {"code", "label", "members"}}
    return Code(code, clean, attrs, kind, tuple(str(m) for m in members))


def _check_distinct_labels(entries: list[Code], file: str, log: ProblemLog) -> None:
    """Two codes with the same label in one language cannot be told apart by a person or by recoding."""
    for language in REQUIRED_LANGUAGES:
        owner: dict[str, str] = {}
        for entry in entries:
            text = entry.labels.get(language, "").strip().lower()
            if text and text in owner and entry.kind == CODE:
                log.add(file, f"codes.{entry.code}.label.{language}", f"same label as {owner[text]!r}")
            owner.setdefault(text, entry.code)
