"""Indicator definitions (INDICATORS.md §3) and how ``indicators.yaml`` is read and checked.

An indicator is declarative: a unit and level, a numerator and denominator written in the expression
language of :mod:`app.indicators.expressions`, breakdowns into categories, sources, extra
disaggregations and alignment IDs. Loading checks every field and code it refers to against the
canonical fields and code lists, so a typo fails at start-up rather than in a report.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.indicators.codes import REQUIRED_LANGUAGES, CodeList
from app.indicators.errors import ProblemLog
from app.indicators.expressions import (
    Compare,
    Condition,
    ExpressionError,
    Measure,
    check_condition,
    check_reference,
    parse_condition,
    parse_measure,
)
from app.indicators.fields import CanonicalField

INDICATORS_FILE = "indicators.yaml"
UNITS = frozenset({"count", "pct", "mean", "median"})
LEVELS = frozenset({"group", "respondent", "person"})
BASES = frozenset({"records", "persons"})
PERSON_SOURCES = frozenset({"members", "members_or_respondent"})
_CODE = re.compile(r"^[A-Z]+-\d{2}$")


@dataclass(frozen=True)
class Breakdown:
    """Per-category results of an indicator: each category restricts the numerator by a condition.
    A field breakdown has one category per code (``field`` set); a named one lists its conditions."""

    name: str
    categories: Mapping[str, Condition]
    field: str | None = None
    sensitive_codes: frozenset[str] = frozenset()
    # Restricts the breakdown's own base (denominator and n) to the units meeting it: NEED-01's
    # first-ranked need divides by the groups whose form ranks their needs.
    among: Condition | None = None


@dataclass(frozen=True)
class Indicator:
    code: str
    names: Mapping[str, str]
    units: tuple[str, ...]
    level: str
    numerator: Measure
    denominator: Measure | None
    basis: str = "records"
    persons: str | None = None
    population: Condition | None = None
    breakdowns: tuple[Breakdown, ...] = ()
    sources: tuple[str, ...] = ()
    extra_disaggregations: tuple[str, ...] = ()
    required_disaggregations: tuple[str, ...] = ()
    alignment: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    sensitive: bool = False
    definition: str = ""

    @property
    def unit(self) -> str:
        return self.units[0]

    def name(self, language: str = "en") -> str:
        return self.names.get(language) or self.names["en"]


@dataclass(frozen=True)
class Defaults:
    disaggregations: tuple[str, ...] = ()
    person_disaggregations: Mapping[str, str] = field(default_factory=dict)
    sensitive_excluded: frozenset[str] = frozenset()
    base: Condition | None = None


class IndicatorLoader:
    """Parses ``indicators.yaml`` and checks every reference against the fields and code lists."""

    def __init__(
        self, fields: Mapping[str, CanonicalField], codelists: Mapping[str, CodeList], log: ProblemLog
    ):
        self.fields = fields
        self.codelists = codelists
        self.log = log

    def problem(self, key: str, message: str) -> None:
        self.log.add(INDICATORS_FILE, key, message)

    def load(self, raw: Any) -> tuple[dict[str, Indicator], Defaults]:
        if not isinstance(raw, dict):
            self.problem("", "must be a mapping with defaults and indicators")
            return {}, Defaults()
        defaults = self.load_defaults(raw.get("defaults") or {})
        indicators: dict[str, Indicator] = {}
        items = raw.get("indicators")
        if not isinstance(items, list) or not items:
            self.problem("indicators", "must be a non-empty list")
            items = []
        for index, item in enumerate(items):
            code = item.get("code") if isinstance(item, dict) else None
            where = code if isinstance(code, str) else f"indicators[{index}]"
            try:
                indicator = self.load_indicator(item, where)
            except ExpressionError as exc:
                self.problem(exc.path, f"bad expression: {exc.message}")
                continue
            if indicator is None:
                continue
            if indicator.code in indicators:
                self.problem(where, "duplicate indicator code")
            indicators[indicator.code] = indicator
        return indicators, defaults

    def load_defaults(self, raw: Any) -> Defaults:
        dims = tuple(str(d) for d in raw.get("disaggregations", []))
        for dim in dims:
            self.check_fields([dim], "defaults.disaggregations", members=False)
        swaps = {str(k): str(v) for k, v in (raw.get("person_disaggregations") or {}).items()}
        for source, target in swaps.items():
            self.check_fields([source], "defaults.person_disaggregations", members=False)
            self.check_fields([target], "defaults.person_disaggregations", members=True)
        excluded = frozenset(str(d) for d in raw.get("sensitive_excluded_disaggregations", []))
        base = None
        if "base" in raw:
            try:
                base = parse_condition(raw["base"], "defaults.base")
                self.report(
                    check_condition(base, "defaults.base", self.fields, self.codelists, members=False)
                )
            except ExpressionError as exc:
                self.problem(exc.path, f"bad expression: {exc.message}")
        return Defaults(dims, swaps, excluded, base)

    def load_indicator(self, item: Any, where: str) -> Indicator | None:
        if not isinstance(item, dict):
            self.problem(where, "an indicator must be a mapping")
            return None
        code = item.get("code")
        if not isinstance(code, str) or not _CODE.match(code):
            self.problem(where, f"indicator code must look like FLW-01, got {code!r}")
            return None
        names = item.get("name")
        if not isinstance(names, dict):
            names = {}
        for language in REQUIRED_LANGUAGES:
            if not isinstance(names.get(language), str) or not names[language].strip():
                self.problem(f"{where}.name", f"missing {language} name")
        units_raw = item.get("unit")
        units = tuple(units_raw) if isinstance(units_raw, list) else (units_raw,)
        if not units or any(u not in UNITS for u in units):
            self.problem(f"{where}.unit", f"unit must be one or more of {sorted(UNITS)}, got {units_raw!r}")
            return None
        level = item.get("level")
        if level not in LEVELS:
            self.problem(f"{where}.level", f"unknown level {level!r}")
        basis = item.get("basis", "records")
        persons = item.get("persons")
        if basis not in BASES or (basis == "persons") != (persons in PERSON_SOURCES):
            self.problem(f"{where}.basis", "persons basis needs persons: members or members_or_respondent")
        if basis == "persons" and level != "person":
            self.problem(f"{where}.level", "a persons-basis indicator reports persons")
        members = basis == "persons"
        population = None
        if "population" in item:
            population = parse_condition(item["population"], f"{where}.population")
            self.report(
                check_condition(
                    population, f"{where}.population", self.fields, self.codelists, members=members
                )
            )
        if "numerator" not in item:
            self.problem(where, "missing numerator")
            return None
        numerator = self.measure(item["numerator"], f"{where}.numerator", members)
        denominator = (
            self.measure(item["denominator"], f"{where}.denominator", members)
            if "denominator" in item
            else None
        )
        self.check_units(units, numerator, denominator, where)
        breakdowns = tuple(
            self.breakdown(b, f"{where}.breakdowns[{i}]", members)
            for i, b in enumerate(item.get("breakdowns", []))
        )
        sources = tuple(str(s) for s in item.get("sources", []))
        self.check_fields(sources, f"{where}.sources", members=True)
        extras = tuple(str(d) for d in item.get("disaggregations", []))
        required = tuple(str(d) for d in item.get("required_disaggregations", []))
        self.check_fields(extras + required, f"{where}.disaggregations", members=members)
        sensitive = item.get("sensitive", False)
        if not isinstance(sensitive, bool):
            self.problem(f"{where}.sensitive", "must be true or false")
        return Indicator(
            code=code,
            names={str(k): str(v) for k, v in names.items()},
            units=tuple(str(u) for u in units),
            level=str(level),
            numerator=numerator,
            denominator=denominator,
            basis=str(basis),
            persons=persons if isinstance(persons, str) else None,
            population=population,
            breakdowns=breakdowns,
            sources=sources,
            extra_disaggregations=extras,
            required_disaggregations=required,
            alignment=self.alignment(item.get("alignment", {}), f"{where}.alignment"),
            sensitive=sensitive is True,
            definition=str(item.get("definition", "")),
        )

    def measure(self, raw: Any, where: str, members: bool) -> Measure:
        measure = parse_measure(raw, where)
        if measure.where is not None:
            self.report(
                check_condition(measure.where, f"{where}.where", self.fields, self.codelists, members=members)
            )
        self.check_fields(measure.answered, f"{where}.answered", members=members)
        if measure.field is not None:
            self.check_fields([measure.field], f"{where}.sum", members=members)
            found = self.fields.get(measure.field)
            if found is not None and found.type not in {"int", "decimal"}:
                self.problem(f"{where}.sum", f"cannot sum {found.type} field {measure.field!r}")
        return measure

    def check_units(
        self, units: tuple[Any, ...], numerator: Measure, denominator: Measure | None, where: str
    ) -> None:
        if "count" in units and denominator is not None:
            self.problem(f"{where}.denominator", "a count has no denominator")
        if set(units) & {"pct", "mean", "median"} and denominator is None:
            self.problem(f"{where}.denominator", "a percentage, mean or median needs a denominator")
        if set(units) & {"mean", "median"} and numerator.kind != "sum":
            self.problem(f"{where}.numerator", "a mean or median needs numerator {sum: field}")

    def breakdown(self, raw: Any, where: str, members: bool) -> Breakdown:
        if not isinstance(raw, dict):
            self.problem(where, "a breakdown is {field: ...} or {name: ..., categories: ...}")
            return Breakdown(where, {})
        if "categories" in raw:
            conditions = {
                str(name): parse_condition(body, f"{where}.categories.{name}")
                for name, body in (raw["categories"] or {}).items()
            }
            for name, cond in conditions.items():
                self.report(
                    check_condition(
                        cond, f"{where}.categories.{name}", self.fields, self.codelists, members=members
                    )
                )
            return Breakdown(str(raw.get("name", where)), conditions)
        key = str(raw.get("field"))
        problems = check_reference(key, where, self.fields, members=members)
        if problems:
            self.report(problems)
            return Breakdown(key, {})
        codelist = self.codelists.get(self.fields[key].codelist or "")
        if codelist is None:
            self.problem(where, f"a field breakdown needs a coded field, {key!r} is not")
            return Breakdown(key, {})
        codes = [str(c) for c in raw.get("codes", codelist.values)]
        excluded = {str(c) for c in raw.get("exclude", [])}
        sensitive = {str(c) for c in raw.get("sensitive_codes", [])}
        for name, listed in (("codes", codes), ("exclude", excluded), ("sensitive_codes", sensitive)):
            bad = sorted(set(listed) - set(codelist.values))
            if bad:
                self.problem(f"{where}.{name}", f"{bad} not in code list {codelist.name!r}")
        categories: dict[str, Condition] = {c: Compare(key, "eq", c) for c in codes if c not in excluded}
        among = None
        if raw.get("among") is not None:
            among = parse_condition(raw["among"], f"{where}.among")
            self.report(
                check_condition(among, f"{where}.among", self.fields, self.codelists, members=members)
            )
        return Breakdown(key, categories, key, frozenset(sensitive), among)

    def alignment(self, raw: Any, where: str) -> dict[str, tuple[str, ...]]:
        if not isinstance(raw, dict):
            self.problem(where, "must be a mapping of framework to IDs")
            return {}
        result: dict[str, tuple[str, ...]] = {}
        for framework, ids in raw.items():
            values = ids if isinstance(ids, list) else [ids]
            if not all(isinstance(v, str) for v in values):
                self.problem(f"{where}.{framework}", "IDs must be strings")
            result[str(framework)] = tuple(str(v) for v in values)
        return result

    def check_fields(self, keys: Any, where: str, *, members: bool) -> None:
        for key in keys:
            self.report(check_reference(str(key), where, self.fields, members=members))

    def report(self, messages: list[str]) -> None:
        for message in messages:
            path, _, text = message.partition(": ")
            self.problem(path, text)


def load_indicators(
    raw: Any, fields: Mapping[str, CanonicalField], codelists: Mapping[str, CodeList], log: ProblemLog
) -> tuple[dict[str, Indicator], Defaults]:
    """The indicators and catalogue-wide defaults of ``indicators.yaml``, problems recorded in ``log``."""
    return IndicatorLoader(fields, codelists, log).load(raw)
