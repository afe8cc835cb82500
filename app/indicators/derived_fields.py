"""Filling the derived canonical fields of a normalised submission (INDICATORS.md §1/§2).

Applied after the mapping: age bands, the sex/gender fallback ``u``, Washington Group status for each
person and for the group, group counts from the roster, food security scores, the reporting period, and
the population type / route stage cross-check. A value the form gave is never overwritten; every
derived value records its inputs as its source (``derived:<inputs>``).
"""

from __future__ import annotations

from typing import Any

from app.indicators import derive
from app.indicators.answers import is_empty
from app.indicators.catalog import Catalog
from app.indicators.fields import MEMBERS
from app.indicators.mapping.document import CountRule, MappingDocument

WG_MIN_AGE = 5  # the Washington Group Short Set is asked of persons aged 5 and over


def _under(age: Any, limit: int) -> bool:
    return isinstance(age, int | float) and not isinstance(age, bool) and age < limit


class DerivedFields:
    """The derived fields of §1/§2, applied after mapping; a value the form gave is never overwritten."""

    def __init__(
        self,
        catalog: Catalog,
        doc: MappingDocument,
        record: dict[str, Any],
        sources: dict[str, str],
        persons: list[dict[str, Any]],
        person_sources: list[dict[str, str]],
        has_roster: bool,
        counts: list[tuple[CountRule, int | None]] | None = None,
    ) -> None:
        self.counts_asked = counts or []
        self.catalog = catalog
        self.doc = doc
        self.record = record
        self.sources = sources
        self.has_roster = has_roster
        self.persons = persons
        self.person_sources = person_sources

    def set(self, key: str, value: Any, source: str) -> None:
        if is_empty(self.record.get(key)) and not is_empty(value):
            self.record[key] = value
            self.sources[key] = f"derived:{source}"

    def run(self) -> list[str]:
        self.people()
        self.counts()
        self.scores()
        self.set(
            "submission.period",
            derive.period(self.record["submission.collected_at"]),
            "submission.collected_at",
        )
        return self.cross_check()

    def bands(self, source: str) -> list[derive.Band]:
        rule = self.doc.derived.get("age_band")
        if (
            rule is not None
            and str(rule.params.get("from", f"{MEMBERS}[].age_years")).replace("[]", "") == source
        ):
            return derive.bands_from_bins(rule.params["bins"], rule.params["labels"])
        return derive.bands_from_codelist(self.catalog.codelists["age_band"])

    def cutoff(self) -> frozenset[str]:
        rule = self.doc.derived.get("disability_wg")
        return (
            frozenset(rule.params["cutoff"]) if rule and "cutoff" in rule.params else self.catalog.wg.cutoff
        )

    def people(self) -> None:
        domains = self.catalog.wg.domains
        member_bands = self.bands("members.age_years")
        for person, sources in zip(self.persons, self.person_sources, strict=True):
            derived = {
                "age_band": (derive.age_band(person["age_years"], member_bands), "age_years"),
                "sex_gender": ("u", "fallback"),
                "disability_wg": (
                    derive.wg_status([person[f"wg_{d}"] for d in domains], self.cutoff()),
                    "wg_*",
                ),
            }
            for name, (value, source) in derived.items():
                if is_empty(person[name]):
                    person[name] = value
                    sources[name] = f"derived:{source}"
        age = self.record["respondent.age_years"]
        self.set(
            "respondent.age_band",
            derive.age_band(age, self.bands("respondent.age_years")),
            "respondent.age_years",
        )
        self.set("respondent.sex_gender", "u", "fallback")
        answers = [self.record[f"respondent.wg_{d}"] for d in domains]
        self.set("respondent.disability_wg", derive.wg_status(answers, self.cutoff()), "respondent.wg_*")
        # WG-SS is for ages 5 and over: a younger person is outside it and never makes the group unknown.
        statuses = [p["disability_wg"] for p in self.persons if not _under(p["age_years"], WG_MIN_AGE)]
        if self.doc.roster_includes_respondent or not self.persons:
            own = self.record["respondent.disability_wg"]
            if own != derive.UNKNOWN or not statuses:
                statuses.insert(0, own)
        self.set(
            "context.disability_wg_any",
            derive.any_wg(statuses),
            "respondent.disability_wg, members[].disability_wg",
        )

    def counts(self) -> None:
        """Group counts from the form's counts by sex and age band when it asks them, else from the
        persons (the roster, with the respondent when the roster lists the others), when the form did
        not ask for them (FLW-01/03 need them)."""
        size = len(self.persons)
        if self.has_roster:
            self.set("context.roster_size", size, "roster")
        if self.counts_asked:
            self.counts_from_questions()
        elif self.has_roster and size:
            self.set("context.group_size", size, "roster")
            ages_known = all(p["age_band"] != derive.UNKNOWN for p in self.persons)
            children = self.catalog.codelists["age_band"].expand("0_17")
            if ages_known:
                self.set(
                    "context.count_0_17",
                    sum(p["age_band"] in children for p in self.persons),
                    "members[].age_band",
                )
            if all(p["sex_gender"] in {"f", "m", "x"} for p in self.persons):
                self.set(
                    "context.count_female",
                    sum(p["sex_gender"] == "f" for p in self.persons),
                    "members[].sex_gender",
                )
                self.set(
                    "context.count_male",
                    sum(p["sex_gender"] == "m" for p in self.persons),
                    "members[].sex_gender",
                )
        children_count = self.record["context.count_0_17"]
        if children_count is None and any(
            p["age_band"] in self.catalog.codelists["age_band"].expand("0_17") for p in self.persons
        ):
            children_count = 1  # at least one child is known even if other ages are missing
        composition = derive.group_composition(self.record["context.group_size"], children_count)
        self.set("context.group_composition", composition, "context.group_size, context.count_0_17")

    def counts_from_questions(self) -> None:
        """children = Σ the 0-17 bands, women = Σ the female bands, men = Σ the male bands, size = Σ all
        (INDICATORS.md §8); an unanswered count leaves the sums unknown rather than too small."""
        if any(n is None for _, n in self.counts_asked):
            return
        children = self.catalog.codelists["age_band"].expand("0_17")
        source = "counts: " + ", ".join(rule.question for rule, _ in self.counts_asked)
        total = sum(n or 0 for _, n in self.counts_asked)
        self.set("context.group_size", total, source)
        self.set(
            "context.count_0_17",
            sum(n or 0 for rule, n in self.counts_asked if rule.age_band in children),
            source,
        )
        self.set("context.count_female", sum(n or 0 for r, n in self.counts_asked if r.sex == "f"), source)
        self.set("context.count_male", sum(n or 0 for r, n in self.counts_asked if r.sex == "m"), source)

    def scores(self) -> None:
        for name in ("fcs", "rcsi"):
            score = self.catalog.scores[name]
            rule = self.doc.derived.get(name)
            weights = (
                list(rule.params.get("weights") or score.weights.values())
                if rule
                else list(score.weights.values())
            )
            days = [self.record[key] for key in score.item_keys()]
            value = derive.weighted_score(days, [float(w) for w in weights], score.max_days)
            self.set(f"{score.section}.{name}_score", value, f"{score.section}.{score.prefix}*")
        thresholds = self.catalog.scores["fcs"].thresholds
        group = derive.fcs_group(self.record["needs.fcs_score"], thresholds["poor"], thresholds["borderline"])
        self.set("needs.fcs_group", group, "needs.fcs_score")

    def cross_check(self) -> list[str]:
        """Population type and route stage should agree (§2: in_transit <-> transit)."""
        population, stage = self.record["context.population_type"], self.record["context.route_stage"]
        if population is None or stage is None or stage == "unknown":
            return []
        code = self.catalog.codelists["population_type"].get(population)
        expected = code.attrs.get("route_stages") if code else None
        if expected and stage not in expected:
            return [f"population_type {population!r} does not usually go with route_stage {stage!r}"]
        return []
