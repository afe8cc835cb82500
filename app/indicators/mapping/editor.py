"""The mapping document as a form: one row per canonical field (which question fills it) and one row per
answer of a mapped choice question (which canonical code it becomes), and the edits of such a form
applied back onto the document.

It reads and writes :class:`MappingDocument` (the one mapping reader); what the form does not show
(``via``, ``transform``, ``counts``, ``derived``, ``defaults``...) is carried through unchanged. A rule
or recoding the person changes loses the suggestion's confidence and reason: it is now theirs. Pure:
no Flask, no database (the admin view and its tests call it alike).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from app.indicators.catalog import Catalog
from app.indicators.mapping.document import ChoiceRecode, FieldRule, MappingDocument, QuestionIndex
from forms.schema import FormSchema


@dataclass(frozen=True)
class Option:
    value: str
    label: str


@dataclass(frozen=True)
class FieldRow:
    key: str  # canonical key
    section: str
    name: str
    type: str
    description: str
    question: str | None  # the question filling it, as the document names it (a path or a name)
    path: str | None  # that question's path in the form (the document's name when it has none)
    suggested: bool  # the rule comes from a suggestion (it carries a confidence)
    confidence: float | None
    reason: str
    notes: str  # what the form does not edit: via, transform, rank, several targets
    problems: list[Mapping[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class ChoiceRow:
    list_name: str
    value: str
    label: str
    field_key: str  # the canonical field the list's question fills
    code: str | None
    suggested: bool
    confidence: float | None
    options: list[Option]
    problems: list[Mapping[str, Any]] = field(default_factory=list)


def pick_label(labels: Mapping[str, str], language: str, fallback: str) -> str:
    """A form's label in the admin's language: ``es`` matches "Español (es)" or "es"; else the
    default (unnamed) language's, else the first one, else ``fallback``."""
    if not labels:
        return fallback
    for name, text in labels.items():
        code = name.rsplit("(", 1)[-1].rstrip(")").strip() if "(" in name else name
        if text and code.lower() == language.lower():
            return text
    return labels.get("") or next((t for t in labels.values() if t), fallback)


def question_options(schema: FormSchema, language: str) -> list[Option]:
    return [
        Option(q.path, f"{pick_label(q.labels, language, q.name)} ({q.name})")
        for q in QuestionIndex(schema).questions()
    ]


def _targets(rule: FieldRule) -> tuple[str, ...]:
    return () if rule.drop or not rule.to else (rule.to, *rule.also)


def _path(index: QuestionIndex, question: str) -> str:
    found, _ = index.find(question)
    return found.path if found is not None else question


def _notes(rule: FieldRule) -> str:
    parts = [f"{name}: {getattr(rule, name)}" for name in ("via", "transform", "rank") if getattr(rule, name)]
    if rule.multi:
        parts.append("multi")
    return ", ".join(parts)


def _by_where(problems: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    found: dict[str, list[Mapping[str, Any]]] = {}
    for p in problems:
        found.setdefault(str(p.get("where", "")), []).append(p)
    return found


def field_rows(
    doc: MappingDocument,
    schema: FormSchema,
    catalog: Catalog,
    problems: Sequence[Mapping[str, Any]] | None = None,
) -> list[FieldRow]:
    """Every canonical field a question can fill (derived ones are computed, not mapped), in catalogue
    order, with the question that fills it now."""
    filled: dict[str, FieldRule] = {}
    for rule in doc.fields.values():
        for key in _targets(rule):
            filled.setdefault(key, rule)
    where = _by_where(problems or [])
    index = QuestionIndex(schema)
    rows = []
    for key, target in catalog.fields.items():
        if target.derived:
            continue
        found = filled.get(key)
        rows.append(
            FieldRow(
                key=key,
                section=target.section,
                name=target.name,
                type=target.type,
                description=target.description,
                question=found.question if found else None,
                path=_path(index, found.question) if found else None,
                suggested=bool(found and found.confidence is not None),
                confidence=found.confidence if found else None,
                reason=found.reason if found else "",
                notes=_notes(found) if found else "",
                problems=where.get(f"fields.{found.question}", []) if found else [],
            )
        )
    return rows


def choice_rows(
    doc: MappingDocument,
    schema: FormSchema,
    catalog: Catalog,
    language: str,
    problems: Sequence[Mapping[str, Any]] | None = None,
) -> list[ChoiceRow]:
    """Each answer of each choice list whose question fills a coded canonical field, with the code it
    becomes and the codes it may become (labels in ``language``)."""
    index = QuestionIndex(schema)
    where = _by_where(problems or [])
    lists: dict[str, str] = {}  # list name -> the canonical field its first mapped question fills
    for rule in doc.fields.values():
        question, _ = index.find(rule.question)
        for key in _targets(rule):
            target = catalog.fields.get(key)
            if question is None or target is None or not question.choice_list or not target.codelist:
                continue
            lists.setdefault(question.choice_list, key)
    rows = []
    for list_name, key in lists.items():
        codelist = catalog.codelist_for(key)
        assert codelist is not None
        options = [Option(c.code, f"{c.label(language)} ({c.code})") for c in codelist.codes]
        recodes = doc.choices.get(list_name, {})
        for choice in schema.choices.get(list_name, []):
            recode = recodes.get(choice.value)
            rows.append(
                ChoiceRow(
                    list_name=list_name,
                    value=choice.value,
                    label=pick_label(choice.labels, language, choice.value),
                    field_key=key,
                    code=recode.code_for(key) if recode else None,
                    suggested=bool(recode and recode.confidence is not None),
                    confidence=recode.confidence if recode else None,
                    options=options,
                    problems=where.get(f"choices.{list_name}.{choice.value}", []),
                )
            )
    return rows


def apply_edits(
    doc: MappingDocument,
    *,
    fields: Mapping[str, str | None],
    recodes: Mapping[tuple[str, str], str | None],
) -> MappingDocument:
    """``doc`` with each canonical field in ``fields`` filled by the question given (None: by none),
    and each (list, value) in ``recodes`` recoded to the code given (None: not recoded). The caller
    passes only what the person changed, so untouched suggestions keep their marks."""
    rules = dict(doc.fields)
    for key, question in fields.items():
        for q, rule in list(rules.items()):
            targets = _targets(rule)
            if key in targets and q != question:
                kept = tuple(t for t in targets if t != key)
                if kept:
                    rules[q] = replace(rule, to=kept[0], also=kept[1:], confidence=None, reason="")
                else:
                    del rules[q]
        if not question:
            continue
        existing = rules.get(question)
        if existing is None or existing.drop:
            rules[question] = FieldRule(question, to=key)
        elif key not in _targets(existing):
            rules[question] = replace(existing, also=(*existing.also, key), confidence=None, reason="")
    choices = {name: dict(values) for name, values in doc.choices.items()}
    for (list_name, value), code in recodes.items():
        current = choices.get(list_name, {}).get(value)
        if not code:
            choices.get(list_name, {}).pop(value, None)
        elif current is None or current.code != code:
            fields_codes = current.fields if current is not None else {}
            choices.setdefault(list_name, {})[value] = ChoiceRecode(code, fields=fields_codes)
    return replace(doc, fields=rules, choices={n: v for n, v in choices.items() if v})
