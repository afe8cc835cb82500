"""A first mapping for a form, suggested from its HXL tags, question labels/names and choice labels.

The suggestion is a :class:`MappingDocument` a person reviews and confirms: every rule and recoding
carries a confidence and a reason, and whatever could not be placed is listed in ``unmapped`` (a
question with no evidence, a choice whose label matches no code), never silently left out.
"""

from __future__ import annotations

from collections.abc import Iterable

from app.indicators.catalog import Catalog
from app.indicators.fields import MEMBERS
from app.indicators.mapping.document import (
    ChoiceRecode,
    FieldRule,
    FormRef,
    MappingDocument,
    QuestionIndex,
    Unmapped,
)
from app.indicators.mapping.questions import Candidate, candidate, place
from app.indicators.mapping.recode import match_choice
from app.indicators.mapping.validate import COMPATIBLE
from forms.schema import REPEAT, Field, FormSchema


def suggest_mapping(schema: FormSchema, catalog: Catalog, *, mapping_version: str = "1") -> MappingDocument:
    """Suggest how ``schema``'s questions and choices map onto the canonical record."""
    questions = [q for q in QuestionIndex(schema).questions() if not _is_note(q)]
    found = {q.path: candidate(q, catalog) for q in questions}
    roster = _pick_roster(schema, questions, found, catalog)
    unmapped: list[Unmapped] = []
    accepted: list[tuple[Field, Candidate]] = []
    for question in questions:
        evidence = found[question.path]
        if evidence is None:
            reason = "no HXL tag, label or name the catalogue knows"
            if question.type == "string":
                reason += "; free text: consider dropping it (minimisation)"
            unmapped.append(Unmapped("question", question.path, reason))
            continue
        placed = place(evidence, question, roster, catalog)
        if isinstance(placed, str):
            unmapped.append(Unmapped("question", question.path, placed))
            continue
        if placed.key is not None:
            target = catalog.fields[placed.key]
            if question.type not in COMPATIBLE[target.type]:
                unmapped.append(
                    Unmapped(
                        "question",
                        question.path,
                        f"{placed.reason}, but a {question.type} question cannot fill "
                        f"{target.type} field {target.key!r}",
                    )
                )
                continue
            mismatch = _answers_mismatch(schema, question, placed, catalog)
            if mismatch:
                unmapped.append(Unmapped("question", question.path, f"{placed.reason}, but {mismatch}"))
                continue
        accepted.append((question, placed))
    rules = _resolve_conflicts(accepted, catalog, unmapped)
    choices = _suggest_choices(schema, rules, catalog, unmapped)
    return MappingDocument(
        form=FormRef(schema.form_id, schema.version, None, schema.default_language),
        mapping_version=mapping_version,
        fields={rule.question: rule for rule in rules},
        choices=choices,
        unmapped=tuple(unmapped),
    )


def _answers_mismatch(schema: FormSchema, question: Field, placed: Candidate, catalog: Catalog) -> str:
    """Why a label match cannot be right: a choice question for a coded multi-valued field none of
    whose choices is one of the field's codes ("did anyone sell productive assets or means of transport?"
    answered yes / no is not the transport modes). HXL tags are trusted as they are."""
    if placed.key is None or placed.hxl or question.choice_list is None:
        return ""
    target = catalog.fields[placed.key]
    codelist = catalog.codelists.get(target.codelist or "")
    choices = schema.choices.get(question.choice_list, [])
    if codelist is None or not target.multi or not choices:
        return ""
    matched = [c for c in choices if match_choice(c, codelist, catalog.lookups).code not in {None, "other"}]
    if matched:
        return ""
    return f"none of its answers is a code of {codelist.name!r}"


def _is_note(question: Field) -> bool:
    """Notes are read-only strings without a calculation: they carry no answer."""
    return question.type == "string" and question.readonly and not question.calculate


def _pick_roster(
    schema: FormSchema, questions: list[Field], found: dict[str, Candidate | None], catalog: Catalog
) -> str | None:
    """The repeat holding most questions about persons (sex, age, WG ...): the member roster."""
    scores: dict[str, int] = {f.path: 0 for f in schema.fields if f.kind == REPEAT}
    for question in questions:
        evidence = found[question.path]
        if question.repeat is None or evidence is None or evidence.key is None:
            continue
        name = catalog.fields[evidence.key].name
        if f"{MEMBERS}.{name}" in catalog.fields:
            scores[question.repeat] = scores.get(question.repeat, 0) + 1
    best = max(scores.items(), key=lambda item: item[1], default=(None, 0))
    return best[0] if best[1] > 0 else None


def _resolve_conflicts(
    accepted: list[tuple[Field, Candidate]], catalog: Catalog, unmapped: list[Unmapped]
) -> list[FieldRule]:
    """One question per single-valued field (the most confident), ranks for ranked multi-selects."""
    by_target: dict[str | None, list[tuple[Field, Candidate]]] = {}
    for question, found in accepted:
        by_target.setdefault(found.key, []).append((question, found))
    rules: list[FieldRule] = []
    for key, group in by_target.items():
        if key is None:
            rules.extend(
                FieldRule(q.path, drop=True, confidence=c.confidence, reason=c.reason) for q, c in group
            )
            continue
        target = catalog.fields[key]
        if target.ranked:
            rules.extend(_ranked(group, target.ranked, unmapped))
        elif target.multi:
            rules.extend(_rule(q, c) for q, c in group)
        else:
            keep = max(group, key=lambda item: item[1].confidence)  # first of equals: document order
            rules.append(_rule(*keep))
            for question, found in group:
                if question is not keep[0]:
                    why = f"{found.reason}; {key!r} is already filled by {keep[0].path} (more confident)"
                    unmapped.append(Unmapped("question", question.path, why))
    order = {q.path: i for i, (q, _) in enumerate(accepted)}
    return sorted(rules, key=lambda r: order.get(r.question, 0))


def _ranked(
    group: list[tuple[Field, Candidate]], ranks: int, unmapped: list[Unmapped]
) -> Iterable[FieldRule]:
    """Single-choice questions feeding a ranked list get ranks 1..n: from the HXL tag or an ordinal
    word/number when there is one, otherwise in form order. A multi-select keeps no rank."""
    singles = [(q, c) for q, c in group if q.type == "select1"]
    for question, found in group:
        if question.type != "select1":
            yield _rule(question, found)
    taken = {c.rank for _, c in singles if c.rank is not None and 1 <= c.rank <= ranks}
    free = iter(r for r in range(1, ranks + 1) if r not in taken)
    used: set[int] = set()
    for question, found in singles:
        rank = found.rank if found.rank in taken and found.rank not in used else next(free, None)
        if rank is None:
            unmapped.append(
                Unmapped("question", question.path, f"{found.reason}; only {ranks} ranks are kept")
            )
            continue
        used.add(rank)
        yield _rule(question, found, rank)


def _rule(question: Field, found: Candidate, rank: int | None = None) -> FieldRule:
    return FieldRule(
        question=question.path,
        to=found.key,
        transform=found.transform,
        rank=rank,
        hxl=found.hxl,
        confidence=found.confidence,
        reason=found.reason,
    )


def _suggest_choices(
    schema: FormSchema, rules: list[FieldRule], catalog: Catalog, unmapped: list[Unmapped]
) -> dict[str, dict[str, ChoiceRecode]]:
    by_path = schema.field_by_path()
    list_targets: dict[str, list[str]] = {}
    for rule in rules:
        question = by_path[rule.question]
        name = catalog.fields[rule.to].codelist if rule.to else None
        if question.choice_list and name and name not in list_targets.setdefault(question.choice_list, []):
            list_targets[question.choice_list].append(name)
    choices: dict[str, dict[str, ChoiceRecode]] = {}
    for list_name, names in list_targets.items():
        codelist = catalog.codelists[names[0]]
        if len(names) > 1:
            why = f"shared by fields coded with {', '.join(names)}; recoded for {codelist.name!r}, review"
            unmapped.append(Unmapped("choice", list_name, why))
        recodes: dict[str, ChoiceRecode] = {}
        for choice in schema.choices.get(list_name, []):
            match = match_choice(choice, codelist, catalog.lookups)
            if match.code is None:
                fallback = codelist.unmapped or "missing"
                unmapped.append(
                    Unmapped(
                        "choice", list_name, f"{match.reason}; answers become {fallback!r}", choice.value
                    )
                )
            elif match.code != choice.value:
                recodes[choice.value] = ChoiceRecode(match.code, match.confidence, match.reason)
        choices[list_name] = recodes
    return choices
