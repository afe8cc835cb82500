"""The mapping document: how one form version's questions and choices become canonical fields and codes.

Shape (YAML or JSON, INDICATORS.md §5.2)::

    form: {id: jna_peru_2024, version: "2024040502", org: GTRM-PER, lang: es}
    mapping_version: "3"
    roster_includes_respondent: true          # the roster lists everyone, respondent first
    defaults: {country_iso3: PER, population_type: in_destination}
    fields:                                   # question path (or unique name) -> rule
      /data/demo/DEMO_2: {to: respondent.sex_gender, hxl: "#respondee+sex"}
      /data/roster/MH_3: {to: "members[].nationality_iso3", multi: true}
      /data/admin1: {to: location.adm1_pcode, via: peru_admin1_to_pcode}
      /data/needs/need_1: {to: needs.priority_needs, rank: 1}
      /data/end: {to: submission.collected_at, transform: date}
      /data/deviceid: {drop: true}
      /data/status: {to: [respondent.legal_status, respondent.has_regular_status]}
    counts:                                   # a counts form: how many people by sex and age band
      /data/n_f_0_4: {sex: f, age_band: "0_4"}
      /data/n_x: {sex: x}                     # any age
    choices:                                  # per list_name: choice value -> canonical code
      sex: {"1": m, "2": f, "3": x, "99": u}
      status:                                 # one question feeding two fields: a code per field
        "1": {to: REF, fields: {respondent.has_regular_status: "y"}}
    derived:                                  # overrides of the standard derivations
      age_band:
        from: "members[].age_years"
        bins: [0, 5, 12, 18, 60]
        labels: ["0_4", "5_11", "12_17", "18_59", "60_plus"]
      rcsi: {items: [FS_D2_Q1, FS_D2_Q2, FS_D2_Q3, FS_D2_Q4, FS_D2_Q5], weights: [1, 2, 1, 3, 1]}
    drop: [/data/phone]
    sites:                                    # the partner's own site codes -> site registry codes
      RUMICHACA-1: ECU-RUM
    unmapped:                                 # what a suggestion could not place (for review)
      - {kind: question, path: /data/q12, reason: no HXL tag or known label}

A rule may also be the bare canonical key (``/data/q: respondent.age_years``) and a recoding may carry
``{to: code, confidence: 0.9, reason: ...}`` when it comes from a suggestion. A rule's ``to`` may list
several canonical fields (one question, several fields); a recoding's ``fields`` gives the code for a
field whose code list differs from the first one's.

``sites`` recodes the site a submission names (``location.site_code``, after its rule and choice recoding)
from the partner's own code to the project's site registry code, so two partners' codes for one border
point count as one site; the registry then gives the site's admin-0/1/2 P-codes (see ``normalise``).

``roster_includes_respondent`` says whether the roster lists the respondent too (Kobo/JNA household
rosters) or only the other persons (DTM's FMS roster); persons are the roster, or the respondent plus the
roster, accordingly (INDICATORS.md §8). ``counts`` names the questions that count the group's people by
sex and age band: the group's counts (children, women, men, size) then come from them, not the roster.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from app.indicators.fields import canonical_key, display_key
from app.indicators.mapping.messages import N_
from forms.schema import GROUP, REPEAT, Field, FormSchema

TRANSFORMS = frozenset({"date", "upper", "lower", "strip", "split", "months_to_years"})
DERIVATIONS = frozenset({"age_band", "disability_wg", "fcs", "rcsi"})
MAX_SITE_CODE = 64


class MappingFormatError(ValueError):
    """The document is not shaped like a mapping document; ``key`` says where."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        self.message = message
        super().__init__(f"{key}: {message}")


@dataclass(frozen=True)
class FormRef:
    id: str
    version: str | None = None
    org: str | None = None
    lang: str | None = None


@dataclass(frozen=True)
class FieldRule:
    """What to do with one question: map it ``to`` a canonical key (``members.x`` for roster fields),
    optionally through a ``via`` lookup table or a ``transform``; or ``drop`` it."""

    question: str
    to: str | None = None
    also: tuple[str, ...] = ()
    via: str | None = None
    transform: str | None = None
    multi: bool = False
    drop: bool = False
    rank: int | None = None
    hxl: str | None = None
    confidence: float | None = None
    reason: str = ""


@dataclass(frozen=True)
class ChoiceRecode:
    code: str
    confidence: float | None = None
    reason: str = ""
    fields: Mapping[str, str] = field(default_factory=dict)  # canonical key -> code for that field

    def code_for(self, key: str) -> str:
        return self.fields.get(key, self.code)


@dataclass(frozen=True)
class CountRule:
    """A question counting the group's people of one sex (f/m/x/u) and age band (None: any age)."""

    question: str
    sex: str
    age_band: str | None = None


@dataclass(frozen=True)
class DerivedRule:
    name: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Unmapped:
    """Something a suggestion could not place: a question, or one choice of a list (``value``)."""

    kind: str
    path: str
    reason: str
    value: str | None = None


@dataclass(frozen=True)
class MappingDocument:
    form: FormRef
    mapping_version: str = "1"
    roster_includes_respondent: bool | None = None  # None: not declared (read as False)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    fields: Mapping[str, FieldRule] = field(default_factory=dict)
    counts: Mapping[str, CountRule] = field(default_factory=dict)
    choices: Mapping[str, Mapping[str, ChoiceRecode]] = field(default_factory=dict)
    derived: Mapping[str, DerivedRule] = field(default_factory=dict)
    drop: tuple[str, ...] = ()
    unmapped: tuple[Unmapped, ...] = ()
    sites: Mapping[str, str] = field(default_factory=dict)  # partner's site code -> registry code

    def rules(self) -> list[FieldRule]:
        """The rules that fill a canonical field, one per target (a rule listing several fields gives
        one rule per field)."""
        found: list[FieldRule] = []
        for rule in self.fields.values():
            if rule.to and not rule.drop:
                found.append(rule)
                found.extend(replace(rule, to=extra, also=()) for extra in rule.also)
        return found

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MappingDocument:
        if not isinstance(data, Mapping):
            raise MappingFormatError("", N_("a mapping document is a mapping"))
        form = data.get("form") or {}
        if not isinstance(form, Mapping) or not form.get("id"):
            raise MappingFormatError("form", N_("needs at least an id"))
        return cls(
            form=FormRef(
                str(form["id"]), _opt(form.get("version")), _opt(form.get("org")), _opt(form.get("lang"))
            ),
            mapping_version=str(data.get("mapping_version", "1")),
            roster_includes_respondent=_flag(data.get("roster_includes_respondent")),
            defaults=dict(_mapping(data.get("defaults"), "defaults")),
            fields={
                str(q): _field_rule(str(q), body)
                for q, body in _mapping(data.get("fields"), "fields").items()
            },
            counts={
                str(q): _count_rule(str(q), body)
                for q, body in _mapping(data.get("counts"), "counts").items()
            },
            choices={
                str(name): {
                    str(v): _recode(f"choices.{name}.{v}", body)
                    for v, body in _mapping(values, f"choices.{name}").items()
                }
                for name, values in _mapping(data.get("choices"), "choices").items()
            },
            derived={
                str(name): DerivedRule(str(name), dict(_mapping(params, f"derived.{name}")))
                for name, params in _mapping(data.get("derived"), "derived").items()
            },
            drop=tuple(str(q) for q in _list(data.get("drop"), "drop")),
            unmapped=tuple(
                _unmapped(i, item) for i, item in enumerate(_list(data.get("unmapped"), "unmapped"))
            ),
            sites=_sites(data.get("sites")),
        )

    def to_dict(self) -> dict[str, Any]:
        """The document in its YAML/JSON shape (member fields spelled ``members[].x``)."""
        form = {k: v for k, v in vars(self.form).items() if v is not None}
        out: dict[str, Any] = {"form": form, "mapping_version": self.mapping_version}
        if self.roster_includes_respondent is not None:
            out["roster_includes_respondent"] = self.roster_includes_respondent
        if self.defaults:
            out["defaults"] = dict(self.defaults)
        out["fields"] = {q: _rule_dict(r) for q, r in self.fields.items()}
        if self.counts:
            out["counts"] = {
                q: {"sex": c.sex} | ({"age_band": c.age_band} if c.age_band else {})
                for q, c in self.counts.items()
            }
        out["choices"] = {
            name: {v: _recode_dict(r) for v, r in values.items()} for name, values in self.choices.items()
        }
        if self.derived:
            out["derived"] = {name: dict(rule.params) for name, rule in self.derived.items()}
        if self.drop:
            out["drop"] = list(self.drop)
        if self.sites:
            out["sites"] = dict(self.sites)
        if self.unmapped:
            out["unmapped"] = [{k: v for k, v in vars(u).items() if v is not None} for u in self.unmapped]
        return out


class QuestionIndex:
    """Finds a form's questions by absolute path or by name (a name must be unique to be used)."""

    def __init__(self, schema: FormSchema) -> None:
        self.schema = schema
        self.by_path = {f.path: f for f in schema.fields}
        self.by_name: dict[str, list[Field]] = {}
        for f in schema.fields:
            self.by_name.setdefault(f.name, []).append(f)

    def find(self, key: str) -> tuple[Field | None, str]:
        """The question for ``key`` and, when there is none, why."""
        if key in self.by_path:
            return self.by_path[key], ""
        named = self.by_name.get(key, [])
        if len(named) == 1:
            return named[0], ""
        if named:
            return None, N_(
                "name %(key)s is used by %(count)s questions; use the path", key=repr(key), count=len(named)
            )
        return None, N_("no question %(key)s in the form", key=repr(key))

    def questions(self) -> list[Field]:
        return [f for f in self.schema.fields if f.kind not in {GROUP, REPEAT}]


def _opt(value: Any) -> str | None:
    return None if value is None else str(value)


def _mapping(value: Any, key: str) -> Mapping[Any, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise MappingFormatError(key, N_("must be a mapping"))
    return value


def _list(value: Any, key: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise MappingFormatError(key, N_("must be a list"))
    return value


def _field_rule(question: str, body: Any) -> FieldRule:
    where = f"fields.{question}"
    if isinstance(body, str):
        return FieldRule(question, to=canonical_key(body))
    body = _mapping(body, where)
    unknown = set(body) - {"to", "via", "transform", "multi", "drop", "rank", "hxl", "confidence", "reason"}
    if unknown:
        raise MappingFormatError(where, N_("unknown key(s) %(keys)s", keys=sorted(unknown)))
    rank = body.get("rank")
    if rank is not None and (not isinstance(rank, int) or isinstance(rank, bool)):
        raise MappingFormatError(f"{where}.rank", N_("must be an integer"))
    confidence = body.get("confidence")
    targets = body.get("to")
    if isinstance(targets, list):
        if not targets or not all(isinstance(t, str) and t for t in targets):
            raise MappingFormatError(f"{where}.to", N_("lists canonical fields"))
    elif targets:
        targets = [str(targets)]
    else:
        targets = []
    keys = [canonical_key(str(t)) for t in targets]
    return FieldRule(
        question=question,
        to=keys[0] if keys else None,
        also=tuple(keys[1:]),
        via=_opt(body.get("via")),
        transform=_opt(body.get("transform")),
        multi=body.get("multi") is True,
        drop=body.get("drop") is True,
        rank=rank,
        hxl=_opt(body.get("hxl")),
        confidence=float(confidence) if confidence is not None else None,
        reason=str(body.get("reason", "")),
    )


def _recode(where: str, body: Any) -> ChoiceRecode:
    if isinstance(body, str):
        return ChoiceRecode(body)
    body = _mapping(body, where)
    if not isinstance(body.get("to"), str):
        raise MappingFormatError(where, N_("a recoding is a code or {to: code}"))
    confidence = body.get("confidence")
    per_field = _mapping(body.get("fields"), f"{where}.fields")
    return ChoiceRecode(
        body["to"],
        float(confidence) if confidence is not None else None,
        str(body.get("reason", "")),
        {canonical_key(str(k)): str(v) for k, v in per_field.items()},
    )


def _flag(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise MappingFormatError("roster_includes_respondent", N_("must be true or false"))


def _count_rule(question: str, body: Any) -> CountRule:
    where = f"counts.{question}"
    body = _mapping(body, where)
    unknown = set(body) - {"sex", "age_band"}
    if unknown or not isinstance(body.get("sex"), str):
        raise MappingFormatError(where, N_("a count is {sex: f|m|x|u, age_band: <band>} (age_band optional)"))
    band = body.get("age_band")
    return CountRule(question, str(body["sex"]), None if band is None else str(band))


def _sites(value: Any) -> dict[str, str]:
    recodes: dict[str, str] = {}
    for own, registry_code in _mapping(value, "sites").items():
        text = str(registry_code).strip() if isinstance(registry_code, str | int) else ""
        if not text or len(text) > MAX_SITE_CODE:
            raise MappingFormatError(
                f"sites.{own}", N_("names a site registry code (1 to %(max)s characters)", max=MAX_SITE_CODE)
            )
        recodes[str(own).strip()] = text
    return recodes


def _unmapped(index: int, item: Any) -> Unmapped:
    item = _mapping(item, f"unmapped[{index}]")
    value = item.get("value")
    return Unmapped(
        str(item.get("kind", "question")), str(item.get("path", "")), str(item.get("reason", "")), _opt(value)
    )


def _rule_dict(rule: FieldRule) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if rule.to:
        out["to"] = [display_key(k) for k in (rule.to, *rule.also)] if rule.also else display_key(rule.to)
    for name in ("via", "transform", "rank", "hxl", "confidence"):
        value = getattr(rule, name)
        if value is not None:
            out[name] = value
    if rule.multi:
        out["multi"] = True
    if rule.drop:
        out["drop"] = True
    if rule.reason:
        out["reason"] = rule.reason
    return out


def _recode_dict(recode: ChoiceRecode) -> str | dict[str, Any]:
    if recode.confidence is None and not recode.reason and not recode.fields:
        return recode.code
    out: dict[str, Any] = {"to": recode.code}
    if recode.fields:
        out["fields"] = {display_key(k): v for k, v in recode.fields.items()}
    if recode.confidence is not None:
        out["confidence"] = recode.confidence
    if recode.reason:
        out["reason"] = recode.reason
    return out
