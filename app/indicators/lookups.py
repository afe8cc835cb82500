"""Lookup tables for mapping suggestions, read from ``catalog/lookups/``.

* ``labels.yaml``: label variants per code list (``Feminino`` -> ``f``) and common answers (``No sabe``
  -> ``dk``) that apply to every list having the code;
* any other file with a ``list:`` key (``nationality.yaml``): variants for one list, per code and language
  (demonyms: ``Venezolana`` -> ``VEN``);
* ``questions.yaml``: phrases that identify a canonical field from a question's label or name, and the
  phrases that mark a direct identifier to drop.

All text is stored folded (:func:`app.indicators.text.fold`). Precedence when a variant could mean two
things: a list's own variants, then the code list's labels, then the common answers. Two codes claiming
the same variant at one level is a catalogue error, because a suggestion could not choose between them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.indicators.codes import CodeList
from app.indicators.errors import ProblemLog
from app.indicators.fields import CanonicalField
from app.indicators.files import read_yaml
from app.indicators.text import fold, words

DIRECTORY = "lookups"
LIST_OWN = "lookup variant"
LIST_LABEL = "label"
COMMON = "common answer"
NONRESPONSE = ("dk", "refused")  # the common answers that are never substantive


@dataclass(frozen=True)
class Variant:
    """What a folded text means in one list, and where that knowledge comes from (for reasons)."""

    code: str
    source: str


@dataclass(frozen=True)
class Lookups:
    variants: Mapping[str, Mapping[str, Variant]]
    phrases: tuple[tuple[tuple[str, ...], str], ...]  # (phrase words, field key), longest first
    identifiers: tuple[tuple[str, ...], ...]
    # Folded "don't know" / "prefer not to say" texts -> dk / refused, whatever the list (§8: never
    # recoded to a substantive code, even in a list that lacks the code).
    nonresponse: Mapping[str, str] = field(default_factory=dict)

    def variant(self, list_name: str, text: str) -> Variant | None:
        return self.variants.get(list_name, {}).get(fold(text))

    def nonresponse_code(self, *texts: str) -> str | None:
        """``dk`` or ``refused`` when any of ``texts`` (a choice's value and labels) says so."""
        return next((self.nonresponse[fold(t)] for t in texts if fold(t) in self.nonresponse), None)


def load_lookups(
    directory: Path,
    codelists: Mapping[str, CodeList],
    fields: Mapping[str, CanonicalField],
    log: ProblemLog,
) -> Lookups:
    own: dict[str, dict[str, Variant]] = {name: {} for name in codelists}
    common: dict[str, list[str]] = {}
    labels_file = directory / "labels.yaml"
    labels = read_yaml(labels_file, _rel(labels_file), log)
    if isinstance(labels, dict):
        common = _common_answers(labels.get("common", {}), log)
        for list_name, codes in (labels.get("lists") or {}).items():
            where = f"lists.{list_name}"
            for code, texts in _code_texts(codes, where, log):
                _add_variants(own, codelists, str(list_name), code, texts, _rel(labels_file), where, log)
    for path in sorted(directory.glob("*.yaml")):
        if path.name in {"labels.yaml", "questions.yaml"}:
            continue
        data = read_yaml(path, _rel(path), log)
        if not isinstance(data, dict) or not isinstance(data.get("list"), str):
            log.add(_rel(path), "list", "a lookup file names the code list it is for")
            continue
        for code, texts in _code_texts(data.get("variants"), "variants", log, per_language=True):
            _add_variants(own, codelists, data["list"], code, texts, _rel(path), f"variants.{code}", log)
    variants = {name: _merge(own.get(name, {}), codelists[name], common, log) for name in codelists}
    phrases, identifiers = _load_questions(directory / "questions.yaml", fields, log)
    nonresponse = {fold(code): code for code in NONRESPONSE}
    for code in NONRESPONSE:
        nonresponse.update({fold(t): code for t in common.get(code, [])})
    return Lookups(variants, phrases, identifiers, nonresponse)


def _rel(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def _code_texts(
    raw: Any, where: str, log: ProblemLog, *, per_language: bool = False
) -> Iterable[tuple[str, list[str]]]:
    """(code, texts) pairs from ``{code: [text]}`` or, per language, ``{code: {es: [text]}}``."""
    if raw is None:
        return
    if not isinstance(raw, dict):
        log.add(DIRECTORY, where, "must be a mapping of code to variants")
        return
    for code, body in raw.items():
        groups = body.values() if per_language and isinstance(body, dict) else [body]
        texts: list[str] = []
        for group in groups:
            if not isinstance(group, list) or not all(isinstance(t, str) for t in group):
                log.add(DIRECTORY, f"{where}.{code}", "variants must be a list of strings (quote yes/no)")
                continue
            texts.extend(group)
        yield str(code), texts


def _add_variants(
    own: dict[str, dict[str, Variant]],
    codelists: Mapping[str, CodeList],
    list_name: str,
    code: str,
    texts: list[str],
    file: str,
    where: str,
    log: ProblemLog,
) -> None:
    codelist = codelists.get(list_name)
    if codelist is None:
        log.add(file, where, f"unknown code list {list_name!r}")
        return
    if not codelist.is_code(code):
        log.add(file, where, f"unknown code {code!r} in list {list_name!r}")
        return
    table = own.setdefault(list_name, {})
    for text in texts:
        key = fold(text)
        existing = table.get(key)
        if existing is not None and existing.code != code:
            log.add(file, where, f"variant {text!r} also names {existing.code!r}")
        table[key] = Variant(code, LIST_OWN)


def _common_answers(raw: Any, log: ProblemLog) -> dict[str, list[str]]:
    common: dict[str, list[str]] = {}
    for code, texts in _code_texts(raw, "common", log):
        common[code] = texts
    return common


def _merge(
    own: Mapping[str, Variant], codelist: CodeList, common: Mapping[str, list[str]], log: ProblemLog
) -> dict[str, Variant]:
    merged: dict[str, Variant] = {}
    for code, texts in common.items():
        if codelist.is_code(code):
            merged.update({fold(t): Variant(code, COMMON) for t in texts})
    label_owner: dict[str, str] = {}
    for entry in codelist.codes:
        if not codelist.is_code(entry.code):
            continue
        # Codes themselves are matched by CodeList.find, not as variants: a three-letter code such as
        # SUR would otherwise match the Spanish word for south inside a longer label.
        for text in entry.labels.values():
            key = fold(text)
            if label_owner.get(key, entry.code) != entry.code and key not in own:
                log.add(
                    f"codelists/{codelist.name}.yaml",
                    f"codes.{entry.code}",
                    f"label {text!r} also names {label_owner[key]!r}; add a lookup variant to decide",
                )
            label_owner.setdefault(key, entry.code)
            merged[key] = Variant(label_owner[key], LIST_LABEL)
    merged.update(own)
    merged.pop("", None)
    return merged


def _load_questions(
    path: Path, fields: Mapping[str, CanonicalField], log: ProblemLog
) -> tuple[tuple[tuple[tuple[str, ...], str], ...], tuple[tuple[str, ...], ...]]:
    data = read_yaml(path, _rel(path), log)
    file = _rel(path)
    if not isinstance(data, dict):
        log.add(file, "", "must be a mapping with fields and identifiers")
        return (), ()
    owner: dict[tuple[str, ...], str] = {}
    for key, phrases in (data.get("fields") or {}).items():
        if key not in fields:
            log.add(file, f"fields.{key}", "unknown canonical field")
            continue
        if not isinstance(phrases, list) or not all(isinstance(p, str) for p in phrases):
            log.add(file, f"fields.{key}", "phrases must be a list of strings")
            continue
        for phrase in phrases:
            folded = words(phrase)
            if folded in owner and owner[folded] != key:
                log.add(file, f"fields.{key}", f"phrase {phrase!r} also names {owner[folded]!r}")
            owner[folded] = key
    identifiers = data.get("identifiers") or []
    if not isinstance(identifiers, list) or not all(isinstance(p, str) for p in identifiers):
        log.add(file, "identifiers", "must be a list of strings")
        identifiers = []
    ordered = sorted(owner.items(), key=lambda item: -len(item[0]))
    return tuple(ordered), tuple(words(p) for p in identifiers)
