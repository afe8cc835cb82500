"""The reference evaluation of catalogue definitions on hand-built canonical records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from app.indicators.catalog import Catalog
from app.indicators.reference import IndicatorCell, compute, to_table
from app.indicators.suppression import TOTAL, suppress

WG_NONE = {
    f"wg_{d}": "none" for d in ("seeing", "hearing", "walking", "cognition", "selfcare", "communication")
}


@dataclass
class Rec:
    record: dict[str, Any]
    persons: list[dict[str, Any]] = field(default_factory=list)
    has_roster: bool = False


def make(catalog: Catalog, persons: list[dict[str, Any]] | None = None, **values: Any) -> Rec:
    record: dict[str, Any] = {
        k: ([] if f.multi else None) for k, f in catalog.fields.items() if not f.is_member
    }
    record.update({k.replace("__", "."): v for k, v in values.items()})
    people = [
        {n.split(".")[1]: None for n in catalog.fields if n.startswith("members.")} | p for p in persons or []
    ]
    return Rec(record, people, persons is not None)


def total(
    cells: list[IndicatorCell], statistic: str | None = None, category: str | None = None
) -> IndicatorCell:
    return next(
        c
        for c in cells
        if all(k == TOTAL for k in c.key)
        and c.category == category
        and (statistic is None or c.statistic == statistic)
    )


def test_percentage_excludes_dk_refused_and_records_without_consent(catalog: Catalog) -> None:
    answers = ["y", "y", "n", "dk", "refused", None]
    records = [make(catalog, context__used_guide_smuggler=a) for a in answers]
    records.append(make(catalog, context__used_guide_smuggler="y", submission__consent="n"))
    cell = total(compute(catalog.indicators["FLW-08"], records, catalog))
    assert (cell.numerator, cell.denominator, cell.n, cell.dk_refused) == (2, 3, 3, 2)
    assert cell.value == 2 / 3


def test_disaggregation_with_margins_and_multi_valued_dimensions(catalog: Catalog) -> None:
    records = [
        make(
            catalog,
            respondent__sex_gender="f",
            respondent__nationality_iso3=["VEN", "COL"],
            context__used_guide_smuggler="y",
        ),
        make(
            catalog,
            respondent__sex_gender="f",
            respondent__nationality_iso3=["VEN"],
            context__used_guide_smuggler="n",
        ),
        make(catalog, respondent__sex_gender="m", context__used_guide_smuggler="y"),
    ]
    dims = ("respondent.sex_gender", "respondent.nationality_iso3")
    cells = {
        c.key: (c.numerator, c.denominator)
        for c in compute(catalog.indicators["FLW-08"], records, catalog, by=dims)
    }
    assert cells[("f", "VEN")] == (1, 2)
    assert cells[("f", "COL")] == (1, 1)
    assert cells[("m", "unknown")] == (1, 1)
    assert cells[("f", TOTAL)] == (1, 2)  # the two-nationality respondent counts once in the total
    assert cells[(TOTAL, "VEN")] == (1, 2)
    assert cells[(TOTAL, TOTAL)] == (2, 3)


def test_incident_breakdowns_flag_sexual_violence_as_sensitive(catalog: Catalog) -> None:
    incidents = [["theft_robbery"], ["theft_robbery", "sexual_violence"], ["none"], ["refused"], []]
    countries = [["PAN"], ["COL"], [], [], []]
    records = [
        make(catalog, protection__incidents=i, protection__incidents_country=c)
        for i, c in zip(incidents, countries, strict=True)
    ]
    cells = compute(catalog.indicators["PROT-01"], records, catalog)
    headline = total(cells)
    assert (headline.numerator, headline.denominator, headline.dk_refused) == (2, 3, 1)
    theft = total(cells, category="theft_robbery")
    sexual = total(cells, category="sexual_violence")
    assert (theft.numerator, theft.denominator, theft.sensitive) == (2, 3, False)
    assert (sexual.numerator, sexual.sensitive) == (1, True)
    assert total(cells, category="PAN").numerator == 1
    assert not any(c.category == "none" for c in cells)


def test_mean_and_median_days_on_the_route(catalog: Catalog) -> None:
    records = [make(catalog, context__days_since_departure=d) for d in (10, 20, 60, None)]
    cells = compute(catalog.indicators["FLW-05"], records, catalog)
    assert total(cells, "mean").value == 30
    assert total(cells, "median").value == 20


def test_flow_counts_use_registry_rows_only(catalog: Catalog) -> None:
    records = [
        make(catalog, submission__instrument="fmr", context__group_size=4, context__count_0_17=1),
        make(catalog, submission__instrument="fmr", context__group_size=3, context__count_0_17=None),
        make(catalog, submission__instrument="fms", context__group_size=5, context__count_0_17=2),
    ]
    assert total(compute(catalog.indicators["FLW-01"], records, catalog)).value == 7
    assert total(compute(catalog.indicators["FLW-02"], records, catalog)).value == 2
    children = total(compute(catalog.indicators["FLW-03"], records, catalog))
    assert (children.numerator, children.denominator) == (3, 9)  # groups whose child count is known


def test_disability_prevalence_over_persons_with_respondent_fallback(catalog: Catalog) -> None:
    roster = [
        {"age_years": 34, **WG_NONE, "disability_wg": "no_wg"},
        {"age_years": 8, **WG_NONE, "wg_seeing": "a_lot", "disability_wg": "wg"},
        {"age_years": 3, **WG_NONE, "wg_walking": "cannot", "disability_wg": "wg"},  # under 5: out of scope
        {"age_years": 70, "wg_walking": "cannot", "disability_wg": "wg"},  # not all domains answered
    ]
    with_roster = make(catalog, persons=roster)
    without = make(catalog, respondent__age_years=40, respondent__disability_wg="wg")
    without.record.update({f"respondent.{k}": v for k, v in WG_NONE.items()})
    without.record["respondent.wg_hearing"] = "a_lot"
    cells = compute(catalog.indicators["VUL-01"], [with_roster, without], catalog)
    assert (total(cells).numerator, total(cells).denominator) == (2, 3)
    assert total(cells, category="seeing").numerator == 1
    assert total(cells, category="hearing").numerator == 1


def test_groups_with_specific_needs_from_roster_or_flags(catalog: Catalog) -> None:
    records = [
        make(catalog, persons=[{"age_years": 30}, {"age_years": 2}], context__roster_size=2),
        make(catalog, persons=[{"age_years": 30}], context__roster_size=1),
        make(catalog, context__vulnerabilities=["single_caregiver"]),
        make(catalog),  # neither a roster nor flags: not in the denominator
    ]
    cells = compute(catalog.indicators["VUL-02"], records, catalog)
    assert (total(cells).numerator, total(cells).denominator) == (2, 3)
    assert total(cells, category="child_under5").numerator == 1
    assert total(cells, category="single_caregiver").numerator == 1


def test_every_catalogue_indicator_evaluates(catalog: Catalog) -> None:
    record = make(
        catalog,
        persons=[
            {"age_years": 9, "school_enrolled": "n", "is_uasc": "y", **WG_NONE, "disability_wg": "no_wg"}
        ],
        submission__instrument="fmr",
        context__group_size=1,
        context__count_0_17=1,
        context__country_intended_dest_iso3="USA",
        context__days_since_departure=12,
        context__transport_modes=["walk"],
        needs__priority_needs=["food"],
        needs__fcs_group="poor",
        needs__water_source_safe="n",
        needs__slept_last_night="street",
        needs__health_needed="y",
        needs__health_accessed="n",
        protection__feels_unsafe_gbv="high",
        protection__trafficking_indicators=["none"],
        protection__fear_of_return="y",
        needs__legal_help_needed="y",
        needs__legal_help_received="n",
        assistance__received_assistance_30d="n",
        assistance__knows_feedback_mechanism="y",
        respondent__has_valid_id_doc="n",
        context__roster_size=1,
        context__used_guide_smuggler="y",
        protection__incidents=["extortion_bribery"],
    )
    for code, indicator in catalog.indicators.items():
        headline = total(compute(indicator, [record], catalog))
        assert headline.n == 1, code
        assert headline.value is not None, code


def test_cells_feed_suppression(catalog: Catalog) -> None:
    records = [
        make(catalog, respondent__sex_gender=s, context__used_guide_smuggler="y") for s in "f" * 12 + "m" * 3
    ]
    cells = compute(catalog.indicators["FLW-08"], records, catalog, by=("respondent.sex_gender",))
    table = to_table(cells, ("respondent.sex_gender",), statistic="pct")
    result = suppress(table)
    assert result.outcomes[("m",)].reason == "primary"
    assert result.outcomes[("f",)].reason == "secondary"  # else f = total - m
    assert result.outcomes[(TOTAL,)].value == 1.0


@pytest.mark.parametrize("code", ["PROT-01", "NEED-01"])
def test_breakdown_tables_add_a_category_dimension(catalog: Catalog, code: str) -> None:
    indicator = catalog.indicators[code]
    cells = compute(indicator, [make(catalog)], catalog)
    table = to_table(cells, (), statistic="pct", breakdown=indicator.breakdowns[0].name)
    assert table.dimensions == ("category",)
