"""Normalising one submission: a hand-computed household with a roster, and a roster-less count form."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from indicator_builders import options, question, repeat, schema

from app.indicators import derive
from app.indicators.catalog import Catalog
from app.indicators.normalise import NormalisedResult, UnmappedValue, normalise
from forms.schema import FormSchema

HH = "/data/hh"
DOMAINS = ("seeing", "hearing", "walking", "cognition", "selfcare", "communication")
FCS_ITEMS = ("cereals", "pulses", "vegetables", "fruit", "meat_fish", "dairy", "sugar", "oil")
RCSI_ITEMS = ("less_preferred", "borrow", "limit_portion", "restrict_adults", "reduce_meals")


def household_form() -> FormSchema:
    fields = [
        question("/data/end", "dateTime"),
        question("/data/consent", "select1", choices="yn"),
        question("/data/sexo", "select1", choices="sexo"),
        question("/data/edad", "int"),
        question("/data/nac", "select", choices="pais"),
        question("/data/pob", "select1", choices="pob"),
        question("/data/etapa", "select1", choices="etapa"),
        question("/data/admin1", "string"),
        *(question(f"/data/wg/{d}", "select1", choices="wg") for d in DOMAINS),
        repeat(HH),
        question(f"{HH}/sexo_m", "select1", choices="sexo", repeat=HH),
        question(f"{HH}/edad_m", "int", repeat=HH),
        *(question(f"{HH}/wg_m/{d}", "select1", choices="wg", repeat=HH) for d in DOMAINS),
        question(f"{HH}/escuela", "select1", choices="yn", repeat=HH),
        *(question(f"/data/fcs/{item}", "int") for item in FCS_ITEMS),
        *(question(f"/data/rcsi/q{i}", "int") for i in range(1, 6)),
        question("/data/n1", "select1", choices="need"),
        question("/data/n2", "select1", choices="need"),
        question("/data/n3", "select1", choices="need"),
    ]
    choices = {
        "yn": options(("1", "Sí"), ("2", "No"), ("8", "No sabe")),
        "sexo": options(("1", "Mujer"), ("2", "Hombre")),
        "pais": options(("1", "Venezolana"), ("2", "Colombiana"), ("9", "Otra")),
        "pob": options(("1", "En tránsito"), ("2", "En destino")),
        "etapa": options(("t", "Tránsito"), ("d", "Destino")),
        "wg": options(("1", "No"), ("2", "Alguna"), ("3", "Mucha"), ("4", "No puede"), ("8", "No sabe")),
        "need": options(("a", "Alimentos"), ("b", "Alojamiento")),
    }
    return schema(fields, choices, form_id="hh_survey")


MAPPING: dict[str, Any] = {
    "form": {"id": "hh_survey", "version": "1"},
    "mapping_version": "7",
    "roster_includes_respondent": True,  # the household roster lists everyone, respondent first
    "defaults": {"country_iso3": "PER", "unit_of_analysis": "household", "population_type": "host_community"},
    "fields": {
        "end": {"to": "submission.collected_at", "transform": "date"},
        "consent": "submission.consent",
        "/data/sexo": "respondent.sex_gender",
        "/data/edad": "respondent.age_years",
        "/data/nac": "respondent.nationality_iso3",
        "/data/pob": "context.population_type",
        "/data/etapa": "context.route_stage",
        "/data/admin1": {"to": "location.adm1_pcode", "via": "admin1"},
        **{f"/data/wg/{d}": f"respondent.wg_{d}" for d in DOMAINS},
        f"{HH}/sexo_m": "members[].sex_gender",
        f"{HH}/edad_m": "members[].age_years",
        **{f"{HH}/wg_m/{d}": f"members[].wg_{d}" for d in DOMAINS},
        f"{HH}/escuela": "members[].school_enrolled",
        **{f"/data/fcs/{item}": f"needs.fcs_{item}" for item in FCS_ITEMS},
        "/data/n1": {"to": "needs.priority_needs", "rank": 1},
        "/data/n2": {"to": "needs.priority_needs", "rank": 2},
        "/data/n3": {"to": "needs.priority_needs", "rank": 3},
    },
    "choices": {
        "yn": {"1": "y", "2": "n", "8": "dk"},
        "sexo": {"1": "f", "2": "m"},
        "pais": {"1": "VEN", "2": "COL"},
        "pob": {"1": "in_transit", "2": "in_destination"},
        "etapa": {"t": "transit", "d": "destination"},
        "wg": {"1": "none", "2": "some", "3": "a_lot", "4": "cannot", "8": "dk"},
        "need": {"a": "food", "b": "shelter"},
    },
    # the form asks the rCSI questions in its own order; listed here in canonical item order
    "derived": {
        "rcsi": {
            "items": ["/data/rcsi/q1", "/data/rcsi/q2", "/data/rcsi/q3", "/data/rcsi/q4", "/data/rcsi/q5"]
        }
    },
}


def wg(*answers: str) -> dict[str, str]:
    return dict(zip(DOMAINS, answers, strict=False))


VALUES: dict[str, Any] = {
    "end": "2024-04-30T23:59:00.000-05:00",
    "consent": "1",
    "sexo": "1",
    "edad": 34,
    "nac": ["1", "9"],
    "pob": "1",
    "etapa": "d",
    "admin1": "Lima",
    "wg": wg("3", "1", "1", "1", "1", "1"),
    "hh": [
        {"sexo_m": "1", "edad_m": 34, "wg_m": wg("1", "1", "1", "1", "1", "1")},
        {"sexo_m": "2", "edad_m": 7, "wg_m": wg("2", "1", "1", "1", "1", "1"), "escuela": "2"},
        {"sexo_m": "1", "edad_m": 2},
        {"sexo_m": "2", "edad_m": 65, "wg_m": {"walking": "4"}},
    ],
    "fcs": dict(zip(FCS_ITEMS, [7, 3, 2, 0, 1, 0, 5, 7], strict=True)),
    "rcsi": {"q1": 3, "q2": 1, "q3": 2, "q4": 0, "q5": 9},
    "n1": "b",
    "n2": "a",
    "n3": "",
}
META = {"submission_id": "uuid:abc", "form_id": "hh_survey", "form_version": "1", "org_code": "ORG-1"}


@pytest.fixture
def result(catalog: Catalog) -> NormalisedResult:
    return normalise(
        VALUES,
        household_form(),
        MAPPING,
        catalog,
        submission_meta=META,
        via_tables={"admin1": {"Lima": "PE15"}},
    )


def test_record_fields_are_mapped_recoded_and_defaulted(result: NormalisedResult) -> None:
    record = result.record
    assert record["submission.submission_id"] == "uuid:abc"
    assert record["submission.collected_at"] == dt.date(2024, 4, 30)  # the device's local date
    assert record["submission.period"] == "2024-04"
    assert record["submission.consent"] == "y"
    assert record["location.country_iso3"] == "PER"  # default
    assert record["location.adm1_pcode"] == "PE15"  # through the lookup table
    assert record["context.population_type"] == "in_transit"  # the answer beats the default
    assert record["respondent.sex_gender"] == "f"
    assert record["respondent.age_band"] == "18_59"
    assert record["respondent.nationality_iso3"] == ["VEN", "XXX"]
    assert record["needs.priority_needs"] == ["shelter", "food"]
    assert record["needs.priority_need_first"] == "shelter"
    assert record["assistance.assistance_types"] == [] and record["needs.meals_per_day"] is None


def test_roster_persons_get_bands_and_wg_status(result: NormalisedResult) -> None:
    assert result.has_roster
    summary = [(p["sex_gender"], p["age_years"], p["age_band"], p["disability_wg"]) for p in result.persons]
    assert summary == [
        ("f", 34, "18_59", "no_wg"),
        ("m", 7, "5_11", "no_wg"),  # "some difficulty" is below the cut-off
        ("f", 2, "0_4", "unknown"),  # not asked
        ("m", 65, "60_plus", "wg"),  # "cannot" walk meets the cut-off even with other domains missing
    ]
    assert result.persons[1]["school_enrolled"] == "n"
    assert result.record["respondent.disability_wg"] == "wg"  # seeing: a lot of difficulty
    assert result.record["context.disability_wg_any"] == "wg"


def test_group_counts_come_from_the_roster(result: NormalisedResult) -> None:
    record = result.record
    assert (record["context.roster_size"], record["context.group_size"]) == (4, 4)
    assert (record["context.count_0_17"], record["context.count_female"], record["context.count_male"]) == (
        2,
        2,
        2,
    )
    assert record["context.group_composition"] == "with_children"


def test_food_scores_by_hand(result: NormalisedResult) -> None:
    # FCS 2*7 + 3*3 + 1*2 + 1*0 + 4*1 + 4*0 + 0.5*5 + 0.5*7 = 35 -> borderline (21 < 35 <= 35)
    assert result.record["needs.fcs_score"] == 35.0
    assert result.record["needs.fcs_group"] == "borderline"
    # rCSI 1*3 + 2*1 + 1*2 + 3*0 + 1*min(9, 7) = 14
    assert result.record["needs.rcsi_borrow"] == 1
    assert result.record["needs.rcsi_score"] == 14.0


def test_unmapped_values_are_listed_and_become_the_fallback(result: NormalisedResult) -> None:
    assert result.unmapped == [
        UnmappedValue("respondent.nationality_iso3", "/data/nac", "9", "no recoding; becomes 'XXX'"),
    ]


def test_every_value_has_provenance(result: NormalisedResult) -> None:
    sources = result.sources
    assert result.mapping_version == "7"
    assert sources["respondent.sex_gender"] == "/data/sexo"
    assert sources["location.country_iso3"] == "default"
    assert sources["submission.submission_id"] == "meta:submission_id"
    assert sources["respondent.age_band"] == "derived:respondent.age_years"
    assert sources["needs.priority_needs"] == "/data/n1, /data/n2"
    assert sources["needs.rcsi_borrow"] == "/data/rcsi/q2"
    assert result.person_sources[0]["age_years"] == "/data/hh/edad_m"
    assert result.person_sources[0]["age_band"] == "derived:age_years"
    for key, value in result.record.items():
        if value not in (None, []):
            assert key in sources, key


def test_population_type_and_route_stage_are_cross_checked(result: NormalisedResult) -> None:
    assert result.warnings == [
        "population_type 'in_transit' does not usually go with route_stage 'destination'"
    ]


def test_result_is_json_ready(result: NormalisedResult) -> None:
    data = json.loads(json.dumps(result.to_json()))
    assert data["record"]["submission.collected_at"] == "2024-04-30"
    assert data["unmapped"][0]["raw_value"] == "9"


def test_unknown_lookup_and_bad_numbers_are_listed_not_dropped(catalog: Catalog) -> None:
    values = {**VALUES, "admin1": "Cusco", "edad": "treinta"}
    result = normalise(
        values, household_form(), MAPPING, catalog, submission_meta=META, via_tables={"admin1": {}}
    )
    listed = {(u.field, u.raw_value) for u in result.unmapped}
    assert {("location.adm1_pcode", "Cusco"), ("respondent.age_years", "treinta")} <= listed
    assert result.record["respondent.age_years"] is None and result.record["respondent.age_band"] == "unknown"


def test_a_form_without_roster_keeps_group_counts_only(catalog: Catalog) -> None:
    form = schema(
        [
            question("/data/site", "string"),
            question("/data/total", "int"),
            question("/data/ninos", "int"),
            question("/data/dir", "select1", choices="dir"),
            question("/data/sexo", "select1", choices="sx"),
        ],
        {"dir": options(("E", "Entrada"), ("S", "Salida")), "sx": options(("F", "Mujer"))},
        form_id="fmr",
    )
    mapping = {
        "form": {"id": "fmr"},
        "defaults": {"instrument": "fmr"},
        "fields": {
            "site": "location.site_code",
            "total": "context.group_size",
            "ninos": "context.count_0_17",
            "dir": "context.direction",
            "sexo": "respondent.sex_gender",
        },
        "choices": {"dir": {"E": "in", "S": "out"}},
    }
    values = {"site": "FMP-07", "total": "5", "ninos": 2, "dir": "S", "sexo": "F"}
    result = normalise(
        values, form, mapping, catalog, submission_meta={"collected_at": dt.datetime(2024, 5, 2, 8)}
    )
    assert not result.has_roster and result.persons == []
    record = result.record
    assert (record["context.group_size"], record["context.count_0_17"]) == (5, 2)
    assert record["context.roster_size"] is None  # member-level values are unavailable
    assert record["context.group_composition"] == "with_children"
    assert record["context.direction"] == "out"
    assert record["respondent.sex_gender"] == "f"  # the value "F" is the code, ignoring case
    assert record["respondent.disability_wg"] == "unknown"
    assert record["submission.instrument"] == "fmr"
    assert (record["submission.collected_at"], record["submission.period"]) == (
        dt.date(2024, 5, 2),
        "2024-05",
    )


def test_sex_gender_falls_back_to_u(catalog: Catalog) -> None:
    form = schema([question("/data/edad", "int")], {})
    result = normalise(
        {"edad": 61},
        form,
        {"form": {"id": "x"}, "fields": {"edad": "respondent.age_years"}},
        catalog,
        submission_meta={},
    )
    assert result.record["respondent.sex_gender"] == "u"
    assert result.sources["respondent.sex_gender"] == "derived:fallback"
    assert result.record["respondent.age_band"] == "60_plus"


@pytest.mark.parametrize(
    ("age", "band"),
    [
        (0, "0_4"),
        (4, "0_4"),
        (5, "5_11"),
        (11, "5_11"),
        (12, "12_17"),
        (17, "12_17"),
        (18, "18_59"),
        (59, "18_59"),
        (60, "60_plus"),
        (101, "60_plus"),
        (-1, "unknown"),
        (None, "unknown"),
        ("7", "unknown"),
    ],
)
def test_age_band_bins(catalog: Catalog, age: Any, band: str) -> None:
    assert derive.age_band(age, derive.bands_from_codelist(catalog.codelists["age_band"])) == band


def test_mapping_bins_override_the_standard_bands(catalog: Catalog) -> None:
    bands = derive.bands_from_bins([0, 5, 18], ["0_4", "5_11", "18_59"])
    assert [derive.age_band(a, bands) for a in (4, 5, 17, 18, 90)] == [
        "0_4",
        "5_11",
        "5_11",
        "18_59",
        "18_59",
    ]


@pytest.mark.parametrize(
    ("score", "group"),
    [(0, "poor"), (21, "poor"), (21.5, "borderline"), (35, "borderline"), (35.5, "acceptable")],
)
def test_fcs_thresholds(score: float, group: str) -> None:
    assert derive.fcs_group(score, 21, 35) == group


def test_partial_scores_are_not_computed() -> None:
    assert derive.weighted_score([7, None, 1], [2, 3, 1], 7) is None
    assert derive.wg_status(["none"] * 5 + ["dk"], frozenset({"a_lot", "cannot"})) == "unknown"
