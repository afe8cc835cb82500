"""The indicator catalogue: canonical fields, code lists, lookups and indicators, loaded from the YAML
files under ``catalog/`` and validated as a whole.

:func:`load_catalog` is cached (the files ship with the code and do not change while it runs);
:func:`validate_catalog` reads the files afresh and is what the app calls at start-up, so a bad edit stops
the app with every problem listed, each naming its file and key. Adding an indicator is an entry in
``indicators.yaml`` plus a test; no code changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from app.indicators.codes import CodeList, load_codelist
from app.indicators.definitions import INDICATORS_FILE, Breakdown, Indicator, load_indicators
from app.indicators.errors import CatalogError, ProblemLog
from app.indicators.expressions import Condition
from app.indicators.fields import (
    CanonicalField,
    CoreHxlRule,
    Score,
    WashingtonGroup,
    canonical_key,
    load_fields,
)
from app.indicators.files import read_yaml
from app.indicators.lookups import Lookups, load_lookups

__all__ = ["Breakdown", "Catalog", "CatalogError", "Indicator", "load_catalog", "validate_catalog"]

CATALOG_DIR = Path(__file__).with_name("catalog")
# How many disaggregations of its own (beyond the defaults) an indicator may declare, and how many of
# them may be multi-valued: the facts table holds them in that many slot columns, and one flag says
# whether a row carries the first value of its multi-valued one (INDICATORS.md §3, "Extra
# disaggregation").
MAX_OWN_DIMENSIONS = 3
MAX_OWN_MULTI = 1


@dataclass(frozen=True)
class Catalog:
    """Everything the catalogue defines, validated and cross-checked; shared read-only by all callers."""

    directory: Path
    fields: Mapping[str, CanonicalField]
    codelists: Mapping[str, CodeList]
    indicators: Mapping[str, Indicator]
    scores: Mapping[str, Score]
    wg: WashingtonGroup
    core_hxl: tuple[CoreHxlRule, ...]
    lookups: Lookups
    default_disaggregations: tuple[str, ...]
    person_disaggregations: Mapping[str, str]
    sensitive_excluded: frozenset[str]
    base: Condition | None

    def field(self, key: str) -> CanonicalField:
        try:
            return self.fields[canonical_key(key)]
        except KeyError:
            raise KeyError(f"unknown canonical field {key!r}") from None

    def codelist_for(self, key: str) -> CodeList | None:
        name = self.field(key).codelist
        return None if name is None else self.codelists[name]

    def resolve(self, name: str) -> str | None:
        """A canonical key from a full key, a ``members[]`` spelling, or a short name that is unique
        outside the roster (``country_iso3`` -> ``location.country_iso3``)."""
        key = canonical_key(name)
        if key in self.fields:
            return key
        matches = [k for k, f in self.fields.items() if f.name == name and not f.is_member]
        return matches[0] if len(matches) == 1 else None

    def own_dimensions(self, indicator: Indicator) -> dict[str, str]:
        """The disaggregations an indicator declares beyond the defaults (direction, transport modes,
        legal status...): the name ``by=`` accepts (the canonical field's name) -> canonical key, in
        catalogue order. One that a default already covers (a person's own age band) is left out."""
        swaps = self.person_disaggregations if indicator.basis == "persons" else {}
        defaults = {swaps.get(k, k) for k in self.default_disaggregations}
        found: dict[str, str] = {}
        for raw in indicator.extra_disaggregations:
            key = canonical_key(swaps.get(raw, raw))
            if key not in defaults and key in self.fields:
                found.setdefault(self.fields[key].name, key)
        return found

    def disaggregations(self, indicator: Indicator) -> tuple[str, ...]:
        """The dimensions an indicator may be broken down by: the defaults (the person's own attributes
        for person-based indicators) plus its extras, never site/admin 2 for sensitive indicators."""
        dims: list[str] = []
        for key in (*self.default_disaggregations, *indicator.extra_disaggregations):
            if indicator.basis == "persons":
                key = self.person_disaggregations.get(key, key)
            if indicator.sensitive and key in self.sensitive_excluded:
                continue
            if key not in dims:
                dims.append(key)
        return tuple(dims)


def validate_catalog(directory: Path | None = None) -> Catalog:
    """Read and check every catalogue file afresh; raise :class:`CatalogError` listing all problems."""
    root = directory or CATALOG_DIR
    log = ProblemLog()
    codelists = _load_codelists(root, log)
    fields_file = load_fields(read_yaml(root / "fields.yaml", "fields.yaml", log), codelists, log)
    lookups = load_lookups(root / "lookups", codelists, fields_file.fields, log)
    raw = read_yaml(root / INDICATORS_FILE, INDICATORS_FILE, log)
    indicators, defaults = load_indicators(raw, fields_file.fields, codelists, log)
    log.raise_if_any()
    catalog = Catalog(
        directory=root,
        fields=fields_file.fields,
        codelists=codelists,
        indicators=indicators,
        scores=fields_file.scores,
        wg=fields_file.wg,
        core_hxl=fields_file.core_hxl,
        lookups=lookups,
        default_disaggregations=defaults.disaggregations,
        person_disaggregations=defaults.person_disaggregations,
        sensitive_excluded=defaults.sensitive_excluded,
        base=defaults.base,
    )
    for indicator in catalog.indicators.values():
        own = catalog.own_dimensions(indicator)
        where = f"indicators.{indicator.code}.disaggregations"
        if len(own) > MAX_OWN_DIMENSIONS:
            log.add(INDICATORS_FILE, where, f"at most {MAX_OWN_DIMENSIONS} beyond the defaults")
        if sum(catalog.fields[key].multi for key in own.values()) > MAX_OWN_MULTI:
            log.add(INDICATORS_FILE, where, f"at most {MAX_OWN_MULTI} multi-valued beyond the defaults")
    log.raise_if_any()
    return catalog


@lru_cache(maxsize=4)
def _cached(directory: str) -> Catalog:
    return validate_catalog(Path(directory))


def load_catalog(directory: Path | None = None) -> Catalog:
    """The catalogue, loaded once per directory (the shipped one by default)."""
    return _cached(str((directory or CATALOG_DIR).resolve()))


def _load_codelists(root: Path, log: ProblemLog) -> dict[str, CodeList]:
    codelists: dict[str, CodeList] = {}
    paths = sorted((root / "codelists").glob("*.yaml"))
    if not paths:
        log.add("codelists/", "", "no code list files")
    for path in paths:
        name = f"codelists/{path.name}"
        codelist = load_codelist(read_yaml(path, name, log), name, log)
        if codelist is None:
            continue
        if codelist.name != path.stem:
            log.add(name, "name", f"code list {codelist.name!r} must live in {codelist.name}.yaml")
        if codelist.name in codelists:
            log.add(name, "name", f"duplicate code list {codelist.name!r}")
        codelists[codelist.name] = codelist
    return codelists
