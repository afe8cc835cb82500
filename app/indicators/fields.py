"""Canonical fields (INDICATORS.md §1) and the scores computed from them, read from ``fields.yaml``.

A canonical field's key is ``<section>.<name>``; member (roster) fields live in the ``members`` section.
Mapping documents may spell them ``members[].<name>`` as the spec's sketch does; :func:`canonical_key`
accepts both spellings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.indicators.codes import CodeList
from app.indicators.errors import ProblemLog
from app.indicators.hxl import HxlTag, canonical_tag, parse_hxl

FILE = "fields.yaml"
TYPES = frozenset({"code", "codes", "int", "decimal", "date", "bool", "text"})
LEVELS = frozenset({"group", "respondent", "member"})
MEMBERS = "members"


@dataclass(frozen=True)
class CanonicalField:
    """One field of the canonical record (``level`` group/respondent) or of a roster person (member)."""

    key: str
    section: str
    name: str
    type: str
    level: str
    codelist: str | None = None
    sensitive: bool = False
    derived: bool = False
    ranked: int | None = None
    round: int | None = None
    description: str = ""

    @property
    def multi(self) -> bool:
        return self.type == "codes"

    @property
    def coded(self) -> bool:
        return self.codelist is not None

    @property
    def is_member(self) -> bool:
        return self.section == MEMBERS

    @property
    def hxl(self) -> str:
        """Ruta's ``#x_`` tag for this field."""
        return canonical_tag(self.key)


@dataclass(frozen=True)
class Score:
    """A weighted score over day counts (FCS, rCSI): items in canonical order with their weights."""

    name: str
    section: str
    prefix: str
    weights: Mapping[str, float]
    max_days: int
    thresholds: Mapping[str, float]

    def item_keys(self) -> tuple[str, ...]:
        return tuple(f"{self.section}.{self.prefix}{item}" for item in self.weights)


@dataclass(frozen=True)
class WashingtonGroup:
    """The Washington Group Short Set: six domains and the answers meeting the disability cut-off."""

    domains: tuple[str, ...]
    cutoff: frozenset[str]


@dataclass(frozen=True)
class CoreHxlRule:
    """A core HXL tag partners use in Kobo and the canonical field it suggests."""

    tag: HxlTag
    field: str
    unless: frozenset[str]

    def matches(self, tag: HxlTag) -> bool:
        return (
            tag.hashtag == self.tag.hashtag
            and self.tag.attributes <= tag.attributes
            and not (self.unless & tag.attributes)
        )


def canonical_key(spelling: str) -> str:
    """``members[].age_years`` -> ``members.age_years``; other keys unchanged."""
    return spelling.replace("[]", "", 1) if spelling.startswith(f"{MEMBERS}[]") else spelling


def display_key(key: str) -> str:
    """The spelling used in mapping documents: ``members.age_years`` -> ``members[].age_years``."""
    return key.replace(f"{MEMBERS}.", f"{MEMBERS}[].", 1) if key.startswith(f"{MEMBERS}.") else key


@dataclass(frozen=True)
class FieldsFile:
    """Everything ``fields.yaml`` defines."""

    fields: Mapping[str, CanonicalField]
    scores: Mapping[str, Score]
    wg: WashingtonGroup
    core_hxl: tuple[CoreHxlRule, ...]


def load_fields(data: object, codelists: Mapping[str, CodeList], log: ProblemLog) -> FieldsFile:
    """Build the canonical fields, scores and core HXL table, recording problems in ``log``."""
    if not isinstance(data, dict):
        log.add(FILE, "", "must be a mapping with sections, scores and core_hxl")
        data = {}
    fields: dict[str, CanonicalField] = {}
    sections = data.get("sections")
    if not isinstance(sections, dict):
        log.add(FILE, "sections", "missing sections")
        sections = {}
    for section, body in sections.items():
        if not isinstance(body, dict) or not isinstance(body.get("fields"), dict):
            log.add(FILE, f"sections.{section}", "a section needs level and fields")
            continue
        level = body.get("level")
        if level not in LEVELS:
            log.add(FILE, f"sections.{section}.level", f"unknown level {level!r}")
        for name, spec in body["fields"].items():
            made = _load_field(str(section), str(name), spec, str(level), codelists, log)
            if made is not None:
                fields[made.key] = made
    scores = _load_scores(data.get("scores", {}), fields, log)
    wg = _load_wg(data.get("scores", {}), fields, codelists, log)
    core = _load_core_hxl(data.get("core_hxl", []), fields, log)
    return FieldsFile(fields, scores, wg, core)


def _load_field(
    section: str, name: str, spec: Any, level: str, codelists: Mapping[str, CodeList], log: ProblemLog
) -> CanonicalField | None:
    key = f"{section}.{name}"
    where = f"sections.{key}"
    if not isinstance(spec, dict):
        log.add(FILE, where, "a field needs at least a type")
        return None
    type_ = spec.get("type")
    if type_ not in TYPES:
        log.add(FILE, f"{where}.type", f"unknown type {type_!r} (one of {', '.join(sorted(TYPES))})")
        return None
    codelist = spec.get("codelist")
    if type_ in {"code", "codes"}:
        if codelist not in codelists:
            log.add(FILE, f"{where}.codelist", f"unknown code list {codelist!r}")
    elif codelist is not None:
        log.add(FILE, f"{where}.codelist", f"a {type_} field has no code list")
        codelist = None
    field_level = spec.get("level", level)
    if field_level not in LEVELS:
        log.add(FILE, f"{where}.level", f"unknown level {field_level!r}")
    ranked = spec.get("ranked")
    if ranked is not None and (type_ != "codes" or not isinstance(ranked, int) or ranked < 1):
        log.add(FILE, f"{where}.ranked", "only a codes field can be ranked, with a positive rank count")
        ranked = None
    rounding = spec.get("round")
    if rounding is not None and (type_ != "decimal" or not isinstance(rounding, int)):
        log.add(FILE, f"{where}.round", "only a decimal field is rounded, to an integer number of places")
        rounding = None
    return CanonicalField(
        key=key,
        section=section,
        name=name,
        type=type_,
        level=str(field_level),
        codelist=codelist,
        sensitive=spec.get("sensitive") is True,
        derived=spec.get("derived") is True,
        ranked=ranked,
        round=rounding,
        description=str(spec.get("description", "")),
    )


def _load_scores(raw: Any, fields: Mapping[str, CanonicalField], log: ProblemLog) -> dict[str, Score]:
    scores: dict[str, Score] = {}
    if not isinstance(raw, dict):
        log.add(FILE, "scores", "must be a mapping")
        return scores
    for name in ("fcs", "rcsi"):
        spec = raw.get(name)
        where = f"scores.{name}"
        if not isinstance(spec, dict) or not isinstance(spec.get("weights"), dict):
            log.add(FILE, where, "missing score definition with weights")
            continue
        weights = spec["weights"]
        if not all(isinstance(w, int | float) and not isinstance(w, bool) for w in weights.values()):
            log.add(FILE, f"{where}.weights", "weights must be numbers")
            continue
        score = Score(
            name=name,
            section=str(spec.get("section", "")),
            prefix=str(spec.get("prefix", "")),
            weights={str(k): float(v) for k, v in weights.items()},
            max_days=int(spec.get("max_days", 7)),
            thresholds={str(k): float(v) for k, v in (spec.get("thresholds") or {}).items()},
        )
        for key in score.item_keys():
            if key not in fields:
                log.add(FILE, f"{where}.weights", f"unknown field {key!r}")
        scores[name] = score
    return scores


def _load_wg(
    raw: Any, fields: Mapping[str, CanonicalField], codelists: Mapping[str, CodeList], log: ProblemLog
) -> WashingtonGroup:
    spec = raw.get("wg") if isinstance(raw, dict) else None
    if not isinstance(spec, dict):
        log.add(FILE, "scores.wg", "missing Washington Group domains and cut-off")
        return WashingtonGroup((), frozenset())
    domains = tuple(str(d) for d in spec.get("domains", []))
    for domain in domains:
        for section in ("respondent", MEMBERS):
            if f"{section}.wg_{domain}" not in fields:
                log.add(FILE, "scores.wg.domains", f"unknown field {section}.wg_{domain!s}")
    cutoff = frozenset(str(c) for c in spec.get("cutoff", []))
    scale = codelists.get("wg_scale")
    if scale is not None and not cutoff <= set(scale.values):
        log.add(FILE, "scores.wg.cutoff", f"codes not in wg_scale: {sorted(cutoff - set(scale.values))}")
    return WashingtonGroup(domains, cutoff)


def _load_core_hxl(
    raw: Any, fields: Mapping[str, CanonicalField], log: ProblemLog
) -> tuple[CoreHxlRule, ...]:
    rules: list[CoreHxlRule] = []
    if not isinstance(raw, list):
        log.add(FILE, "core_hxl", "must be a list")
        return ()
    for index, item in enumerate(raw):
        where = f"core_hxl[{index}]"
        tag = parse_hxl(item.get("tag")) if isinstance(item, dict) else None
        if tag is None or not isinstance(item, dict):
            log.add(FILE, where, "needs a valid HXL tag")
            continue
        if item.get("field") not in fields:
            log.add(FILE, f"{where}.field", f"unknown field {item.get('field')!r}")
            continue
        unless = frozenset(str(a).lower() for a in item.get("unless", []))
        rules.append(CoreHxlRule(tag, str(item["field"]), unless))
    return tuple(rules)
