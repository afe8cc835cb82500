"""Turning one submission into the canonical record and its roster persons (INDICATORS.md §1).

``normalise`` reads the submission's nested values (groups as dicts by node name, repeats as lists of
dicts) through a confirmed mapping document and returns:

* ``record``: every non-member canonical field (``section.name``) -> value (``[]`` for an empty
  multi-valued field, None when unknown);
* ``persons``: one dict per roster entry, keyed by the bare member field name; empty when the form has no
  roster, in which case member-level values are unavailable and only group counts exist;
* ``sources`` / ``person_sources``: where each value came from (a question path, ``default``,
  ``meta:<key>`` or ``derived:<inputs>``), with ``mapping_version`` for the audit trail;
* ``unmapped``: every answer that could not be recoded (it became the list's fallback code) or read,
  for the review queue; nothing is dropped silently.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from app.indicators import derive
from app.indicators.answers import is_empty, repeat_items, steps, to_boolean, to_number, transform, walk
from app.indicators.catalog import Catalog
from app.indicators.codes import CodeList
from app.indicators.derived_fields import DerivedFields
from app.indicators.expressions import is_answered
from app.indicators.fields import CanonicalField
from app.indicators.mapping.document import CountRule, FieldRule, MappingDocument, QuestionIndex
from forms.schema import Field, FormSchema

DEFAULT = "default"
# A ranked multi-select and the derived field holding its first-ranked value.
FIRST_RANKED = {"needs.priority_needs": "needs.priority_need_first"}


SITE_KEY = "location.site_code"
# What a registry site fills in a record: its country and admin P-codes (location fields of the catalogue).
SITE_ROLLUP = ("location.country_iso3", "location.adm1_pcode", "location.adm2_pcode")


def site_rollup(code: str, adm0: str, adm1: str, adm2: str) -> dict[str, str]:
    """One registry site as :func:`normalise` reads it (``registry`` maps site code -> this)."""
    return {SITE_KEY: code, SITE_ROLLUP[0]: adm0, SITE_ROLLUP[1]: adm1, SITE_ROLLUP[2]: adm2}


@dataclass(frozen=True)
class UnmappedValue:
    """An answer that did not fit: ``field`` is the canonical key, ``person`` the roster index."""

    field: str
    source_path: str
    raw_value: Any
    reason: str = ""
    person: int | None = None


@dataclass
class NormalisedResult:
    """One submission in canonical form, with provenance and what did not fit (module docstring)."""

    record: dict[str, Any]
    persons: list[dict[str, Any]]
    sources: dict[str, str]
    person_sources: list[dict[str, str]]
    unmapped: list[UnmappedValue]
    mapping_version: str
    has_roster: bool
    warnings: list[str] = field(default_factory=list)
    # The answers of the mapping's ``counts`` questions (people by sex and age band); flow facts keep them.
    counts: list[tuple[CountRule, int | None]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready copy (dates as ISO 8601 strings)."""

        def plain(values: Mapping[str, Any]) -> dict[str, Any]:
            return {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in values.items()}

        return {
            "record": plain(self.record),
            "persons": [plain(p) for p in self.persons],
            "sources": dict(self.sources),
            "person_sources": [dict(s) for s in self.person_sources],
            "unmapped": [vars(u) | {"raw_value": _jsonable(u.raw_value)} for u in self.unmapped],
            "mapping_version": self.mapping_version,
            "has_roster": self.has_roster,
            "warnings": list(self.warnings),
        }


def normalise(
    values: Mapping[str, Any],
    schema: FormSchema,
    mapping: MappingDocument | Mapping[str, Any],
    catalog: Catalog,
    *,
    submission_meta: Mapping[str, Any],
    via_tables: Mapping[str, Mapping[str, Any]] | None = None,
    registry: Mapping[str, Mapping[str, str]] | None = None,
) -> NormalisedResult:
    """The canonical record and persons of one submission (see the module docstring).

    ``submission_meta`` carries what the server knows (``submission_id``, ``form_id``, ``form_version``,
    ``org_code``, ``collected_at`` ...): each key naming a ``submission.*`` field fills it when the form
    did not. ``via_tables`` holds the lookup tables named by rules' ``via`` (answer -> canonical value).
    ``registry`` is the project's site registry (:func:`site_rollup`): a submission's site, once the
    mapping's ``sites`` recoding has turned the partner's code into a registry code, takes its country and
    admin-1/admin-2 P-codes from the registry, so indicators roll up by the site's P-codes.
    """
    return Normaliser(schema, mapping, catalog, via_tables=via_tables, registry=registry).normalise(
        values, submission_meta
    )


class Normaliser:
    """:func:`normalise` for many submissions of one form version under one mapping: the document is
    parsed and its questions resolved once, not per submission."""

    def __init__(
        self,
        schema: FormSchema,
        mapping: MappingDocument | Mapping[str, Any],
        catalog: Catalog,
        *,
        via_tables: Mapping[str, Mapping[str, Any]] | None = None,
        registry: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        doc = mapping if isinstance(mapping, MappingDocument) else MappingDocument.from_dict(mapping)
        self._prepared = _Normaliser(schema, doc, catalog, via_tables or {}, registry or {})

    def normalise(self, values: Mapping[str, Any], submission_meta: Mapping[str, Any]) -> NormalisedResult:
        return self._prepared.run(values, submission_meta)


def respondent_as_person(record: Mapping[str, Any], catalog: Catalog) -> dict[str, Any]:
    """The respondent seen as a person of the group: each member field from the respondent's field of
    the same name (empty when the respondent has none)."""
    person: dict[str, Any] = {}
    for _key, target in catalog.fields.items():
        if target.is_member:
            value = record.get(f"respondent.{target.name}")
            person[target.name] = _empty(target) if value is None else value
    return person


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


def _empty(target: CanonicalField) -> Any:
    return [] if target.multi else None


class _Normaliser:
    """Reads the mapped answers of one submission into the record and the roster persons."""

    def __init__(
        self,
        schema: FormSchema,
        doc: MappingDocument,
        catalog: Catalog,
        via: Mapping[str, Mapping[str, Any]],
        registry: Mapping[str, Mapping[str, str]],
    ):
        self.doc = doc
        self.registry = {code.casefold(): site for code, site in registry.items()}
        self.site_recodes = {own.casefold(): code for own, code in doc.sites.items()}
        self.catalog = catalog
        self.via = via
        self.index = QuestionIndex(schema)
        self.choices = {(name, c.value): c for name, items in schema.choices.items() for c in items}
        self.reset()
        self.rules: list[tuple[FieldRule, Field, CanonicalField]] = []
        for rule in doc.rules():
            question, _ = self.index.find(rule.question)
            target = catalog.fields.get(rule.to or "")
            if question is not None and target is not None:
                self.rules.append((rule, question, target))
        rosters = [q.repeat for _, q, t in self.rules if t.is_member and q.repeat]
        self.roster = rosters[0] if rosters else None

    def reset(self) -> None:
        """Fresh per-submission state (the resolved rules are kept)."""
        self.unmapped: list[UnmappedValue] = []
        self.record: dict[str, Any] = {
            k: _empty(f) for k, f in self.catalog.fields.items() if not f.is_member
        }
        self.sources: dict[str, str] = {}
        self.ranked: dict[str, dict[int, str]] = {}

    def run(self, values: Mapping[str, Any], meta: Mapping[str, Any]) -> NormalisedResult:
        self.reset()
        persons, person_sources = self.read_roster(values)
        for rule, question, target in self.rules:
            if not target.is_member:
                raws = walk(values, steps(question.path))
                self.assign(self.record, self.sources, rule, question, target, raws, None)
        self.read_scorerepeat_items(values)
        for key, ranks in self.ranked.items():
            ordered = [ranks[r] for r in sorted(ranks)]
            self.record[key] = list(dict.fromkeys(ordered + self.record[key]))
        self.apply_sites()
        self.apply_defaults()
        self.apply_meta(meta)
        if self.roster is not None and not self.doc.roster_includes_respondent:
            # Persons are the respondent plus a roster of the others (INDICATORS.md §8); the respondent
            # comes first, so roster person i is person i + 1. (Without a roster the reference
            # evaluation reads the respondent directly where an indicator allows it.)
            persons.insert(0, respondent_as_person(self.record, self.catalog))
            person_sources.insert(0, {name: f"respondent.{name}" for name in persons[0]})
            self.unmapped = [
                u if u.person is None else replace(u, person=u.person + 1) for u in self.unmapped
            ]
        for index, person in enumerate(persons):
            person["is_respondent"] = index == 0 and not self.doc.roster_includes_respondent
        counts = self.read_counts(values)
        warnings = DerivedFields(
            self.catalog,
            self.doc,
            self.record,
            self.sources,
            persons,
            person_sources,
            self.roster is not None,
            counts,
        ).run()
        return NormalisedResult(
            record=self.record,
            persons=persons,
            sources=self.sources,
            person_sources=person_sources,
            unmapped=self.unmapped,
            mapping_version=self.doc.mapping_version,
            has_roster=self.roster is not None,
            warnings=warnings,
            counts=counts,
        )

    def read_roster(self, values: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
        if self.roster is None:
            return [], []
        members = {k.split(".", 1)[1]: f for k, f in self.catalog.fields.items() if f.is_member}
        persons: list[dict[str, Any]] = []
        person_sources: list[dict[str, str]] = []
        prefix = len(steps(self.roster))
        for index, item in enumerate(repeat_items(values, self.roster)):
            person: dict[str, Any] = {name: _empty(f) for name, f in members.items()}
            sources: dict[str, str] = {}
            for rule, question, target in self.rules:
                if target.is_member and question.repeat == self.roster:
                    raws = walk(item, steps(question.path)[prefix:])
                    self.assign(person, sources, rule, question, target, raws, index)
            persons.append(person)
            person_sources.append(sources)
        return persons, person_sources

    def assign(
        self,
        into: dict[str, Any],
        sources: dict[str, str],
        rule: FieldRule,
        question: Field,
        target: CanonicalField,
        raws: list[Any],
        person: int | None,
    ) -> None:
        slot = target.name if target.is_member else target.key
        converted = [self.convert(raw, rule, question, target, person) for raw in raws]
        present = [v for v in converted if not is_empty(v)]
        if not present:
            return
        if target.multi:
            flat = [code for v in present for code in (v if isinstance(v, list) else [v])]
            if rule.rank is not None:
                self.ranked.setdefault(target.key, {})[rule.rank] = flat[0]
                first = FIRST_RANKED.get(target.key)
                if rule.rank == 1 and first is not None:
                    into[first] = flat[0]
                    sources[first] = question.path
            else:
                into[slot] = list(dict.fromkeys([*into[slot], *flat]))
            paths = sources.get(slot, "").split(", ") if slot in sources else []
            sources[slot] = ", ".join(dict.fromkeys([*paths, question.path]))
        elif is_empty(into[slot]):
            into[slot] = present[0]
            sources[slot] = question.path

    def convert(
        self, raw: Any, rule: FieldRule, question: Field, target: CanonicalField, person: int | None
    ) -> Any:
        if raw is None or raw == "":
            return None
        value = raw
        if rule.via is not None:
            table = self.via.get(rule.via)
            if table is None or str(raw) not in table:
                why = (
                    f"lookup table {rule.via!r} is not available"
                    if table is None
                    else f"not in lookup {rule.via!r}"
                )
                return self.miss(target, question.path, raw, why, person, fallback=True)
            value = table[str(raw)]
        value = transform(value, rule.transform)
        return self.coerce(value, raw, question, target, person)

    def coerce(
        self, value: Any, raw: Any, question: Field, target: CanonicalField, person: int | None
    ) -> Any:
        if target.type in {"code", "codes"}:
            if isinstance(value, list):
                parts = [str(v) for v in value]
            elif question.choice_list is None and question.type == "string":
                # Free text is one answer ("Estados Unidos"), or several separated by commas.
                parts = [p.strip() for p in str(value).replace(";", ",").split(",") if p.strip()]
            else:
                parts = str(value).split() if target.multi else [str(value)]
            codes = [self.recode(p, question, target, person, raw) for p in parts]
            kept = [c for c in codes if c is not None]
            return kept if target.multi else (kept[0] if kept else None)
        if question.choice_list is not None:
            # A choice recoded for a field without a code list (a partner's site "1" -> the registry's
            # site code; a meals choice "a" -> 2): the recoding applies, then the field's type.
            recode = self.doc.choices.get(question.choice_list, {}).get(str(value))
            if recode is not None:
                value = recode.code_for(target.key)
                if target.type == "text":
                    return value
        if target.type == "int":
            number = to_number(value)
            if number is None:
                return self.miss(target, question.path, raw, "not a whole number", person)
            return int(number)
        if target.type == "decimal":
            number = to_number(value)
            if number is None:
                return self.miss(target, question.path, raw, "not a number", person)
            return round(number, target.round) if target.round is not None else number
        if target.type == "date":
            day = derive.to_date(value)
            return day if day is not None else self.miss(target, question.path, raw, "not a date", person)
        if target.type == "bool":
            flag = to_boolean(value)
            return flag if flag is not None else self.miss(target, question.path, raw, "not yes/no", person)
        return str(value)

    def recode(
        self, value: str, question: Field, target: CanonicalField, person: int | None, raw: Any
    ) -> str | None:
        codelist = self.catalog.codelists[target.codelist or ""]
        recodes = self.doc.choices.get(question.choice_list or "", {})
        nonresponse = self.nonresponse(question, value)
        if value in recodes:
            code = recodes[value].code_for(target.key)
            if nonresponse is not None and is_answered(code):
                # Never a substantive code for "don't know" / "prefer not to say" (the validator says so).
                return self.nonsubstantive(codelist, nonresponse)
            if codelist.is_code(code):
                return code
            return self.miss(
                target,
                question.path,
                value,
                f"recoded to {code!r}, not a code of {codelist.name!r}",
                person,
                fallback=True,
            )
        found = codelist.find(value)
        if found is not None:
            return found
        if nonresponse is not None:
            return self.nonsubstantive(codelist, nonresponse)
        if question.choice_list is None:
            # Free text: demonyms and names in any language, case and accents ignored ("VENEZUELANA").
            variant = self.catalog.lookups.variant(codelist.name, value)
            if variant is not None:
                return variant.code
        return self.miss(
            target,
            question.path,
            value if isinstance(raw, list) else raw,
            "no recoding",
            person,
            fallback=True,
        )

    def nonresponse(self, question: Field, value: str) -> str | None:
        """dk / refused when the answer (or its choice's labels) says "don't know" / "prefer not to say"."""
        choice = self.choices.get((question.choice_list or "", value))
        labels = list(choice.labels.values()) if choice is not None else []
        return self.catalog.lookups.nonresponse_code(value, *labels)

    @staticmethod
    def nonsubstantive(codelist: CodeList, code: str) -> str | None:
        """The list's own dk / refused code; a list without it keeps the answer missing."""
        return code if codelist.is_code(code) else None

    def miss(
        self,
        target: CanonicalField,
        path: str,
        raw: Any,
        why: str,
        person: int | None,
        *,
        fallback: bool = False,
    ) -> Any:
        """Record an answer that did not fit; a coded field gets its list's fallback code (unknown,
        XXX, other) so the answer still counts as given, and the original waits for review."""
        codelist = self.catalog.codelists.get(target.codelist or "") if fallback else None
        code = codelist.unmapped if isinstance(codelist, CodeList) else None
        becomes = f"; becomes {code!r}" if code else ""
        self.unmapped.append(UnmappedValue(target.key, path, raw, why + becomes, person))
        return code

    def read_counts(self, values: Mapping[str, Any]) -> list[tuple[CountRule, int | None]]:
        """The answers of the mapping's ``counts`` questions (None when unanswered or not a number)."""
        found: list[tuple[CountRule, int | None]] = []
        for key, rule in self.doc.counts.items():
            question, _ = self.index.find(key)
            if question is None:
                continue
            raws = [r for r in walk(values, steps(question.path)) if not is_empty(r)]
            number = to_number(raws[0]) if raws else None
            found.append((rule, None if number is None or number < 0 else int(number)))
        return found

    def read_scorerepeat_items(self, values: Mapping[str, Any]) -> None:
        """``derived: {fcs: {items: [...]}}`` names the form's questions for each score item, in order."""
        for name in ("fcs", "rcsi"):
            rule = self.doc.derived.get(name)
            items = rule.params.get("items") if rule else None
            if not isinstance(items, list):
                continue
            for key, question_key in zip(self.catalog.scores[name].item_keys(), items, strict=False):
                question, _ = self.index.find(str(question_key))
                if question is not None:
                    target = self.catalog.fields[key]
                    item_rule = FieldRule(question.path, to=key)
                    self.assign(
                        self.record,
                        self.sources,
                        item_rule,
                        question,
                        target,
                        walk(values, steps(question.path)),
                        None,
                    )

    def apply_sites(self) -> None:
        """The partner's site code becomes the registry's; a registry site gives its P-codes (they win over
        the form's own answers, so one site always rolls up to one admin-1/admin-2)."""
        code = self.record.get(SITE_KEY)
        if not isinstance(code, str) or not code.strip():
            return
        recoded = self.site_recodes.get(code.strip().casefold())
        if recoded is not None:
            self.record[SITE_KEY] = recoded
            self.sources[SITE_KEY] = f"sites:{code}"
        site = self.registry.get(str(self.record[SITE_KEY]).casefold())
        if site is None:
            return
        self.record[SITE_KEY] = site.get(SITE_KEY, self.record[SITE_KEY])
        for key in SITE_ROLLUP:
            if site.get(key) and key in self.record:
                self.record[key] = site[key]
                self.sources[key] = f"registry:{self.record[SITE_KEY]}"

    def apply_defaults(self) -> None:
        for name, value in self.doc.defaults.items():
            key = self.catalog.resolve(name)
            if key is None or key not in self.record or not is_empty(self.record[key]):
                continue
            target = self.catalog.fields[key]
            codelist = self.catalog.codelists.get(target.codelist or "")
            if codelist is not None:
                wanted = value if isinstance(value, list) else [value]
                codes = [str(v) for v in wanted if codelist.is_code(v)]
                if len(codes) != len(wanted):
                    self.unmapped.append(UnmappedValue(key, DEFAULT, value, "default is not a code"))
                    continue
                value = codes if target.multi else codes[0]
            self.record[key] = value
            self.sources[key] = DEFAULT

    def apply_meta(self, meta: Mapping[str, Any]) -> None:
        """Server-side facts (instanceID, form id/version, organisation, dates) fill what the form did not."""
        for name, value in meta.items():
            key = f"submission.{name}"
            if key not in self.record or not is_empty(self.record[key]) or value is None:
                continue
            self.record[key] = derive.to_date(value) if self.catalog.fields[key].type == "date" else value
            self.sources[key] = f"meta:{name}"
