"""The shipped catalogue loads, is complete, and a broken catalogue fails with a clear error."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from app.indicators.catalog import CATALOG_DIR, Catalog, load_catalog, validate_catalog
from app.indicators.codes import REQUIRED_LANGUAGES
from app.indicators.errors import CatalogError
from app.indicators.hxl import parse_hxl

SPEC_INDICATORS = [
    *(f"FLW-0{i}" for i in range(1, 10)),
    *(f"NEED-0{i}" for i in range(1, 7)),
    *(f"PROT-0{i}" for i in range(1, 6)),
    "VUL-01",
    "VUL-02",
    "RESP-01",
    "RESP-02",
]
AMERICAS = [
    "ATG",
    "ARG",
    "BHS",
    "BRB",
    "BLZ",
    "BOL",
    "BRA",
    "CAN",
    "CHL",
    "COL",
    "CRI",
    "CUB",
    "DMA",
    "DOM",
    "ECU",
    "SLV",
    "GRD",
    "GTM",
    "GUY",
    "HTI",
    "HND",
    "JAM",
    "MEX",
    "NIC",
    "PAN",
    "PRY",
    "PER",
    "KNA",
    "LCA",
    "VCT",
    "SUR",
    "TTO",
    "USA",
    "URY",
    "VEN",
]
SPEC_LISTS = [
    "sex_gender",
    "sex_birth",
    "gender_identity",
    "age_band",
    "population_type",
    "legal_status",
    "route_stage",
    "nationality",
    "sector",
    "priority_need",
    "vulnerability",
    "incident_type",
    "site_type",
    "transport_mode",
    "unit_of_analysis",
    "yes_no_dk_refused",
    "wg_scale",
    "mode",
    "intention",
    "unsafe_likert",
    "sleeping_place",
    "direction",
]


def test_shipped_catalogue_validates_and_is_cached(catalog: Catalog) -> None:
    assert validate_catalog().indicators.keys() == catalog.indicators.keys()
    assert load_catalog() is load_catalog(CATALOG_DIR)


def test_catalogue_has_the_24_indicators_of_the_spec_tables_in_order(catalog: Catalog) -> None:
    # §3's heading says 22, its tables list 24; every row of the tables is in the catalogue.
    assert list(catalog.indicators) == SPEC_INDICATORS


@pytest.mark.parametrize("code", SPEC_INDICATORS)
def test_every_indicator_is_fully_described(catalog: Catalog, code: str) -> None:
    indicator = catalog.indicators[code]
    assert all(indicator.names[lang].strip() for lang in REQUIRED_LANGUAGES)
    assert set(indicator.units) <= {"count", "pct", "mean", "median"}
    assert indicator.level in {"group", "respondent", "person"}
    assert indicator.sources and indicator.alignment
    if indicator.unit != "count":
        assert indicator.denominator is not None
    for key in indicator.sources:
        assert key in catalog.fields
    dims = catalog.disaggregations(indicator)
    assert "location.country_iso3" in dims and "submission.period" in dims


def test_sensitive_indicators_use_the_higher_threshold_and_coarse_geography(catalog: Catalog) -> None:
    sensitive = {code for code, i in catalog.indicators.items() if i.sensitive}
    assert sensitive == {"PROT-02", "PROT-03"}
    for code in sensitive:
        dims = catalog.disaggregations(catalog.indicators[code])
        assert "location.site_code" not in dims and "location.adm2_pcode" not in dims
    incidents = catalog.indicators["PROT-01"].breakdowns[0]
    assert incidents.sensitive_codes == {"sexual_violence"}
    assert catalog.indicators["PROT-02"].required_disaggregations == ("respondent.sex_gender",)


def test_per_category_breakdowns_named_by_the_spec(catalog: Catalog) -> None:
    def fields(code: str) -> list[str | None]:
        return [b.field for b in catalog.indicators[code].breakdowns]

    assert fields("FLW-04") == ["context.country_intended_dest_iso3"]
    assert fields("NEED-01") == ["needs.priority_needs", "needs.priority_need_first"]
    assert fields("PROT-01") == ["protection.incidents", "protection.incidents_country"]
    assert "none" not in catalog.indicators["PROT-01"].breakdowns[0].categories


def test_person_indicators_are_disaggregated_by_the_person(catalog: Catalog) -> None:
    dims = catalog.disaggregations(catalog.indicators["VUL-01"])
    assert "members.sex_gender" in dims and "respondent.sex_gender" not in dims


@pytest.mark.parametrize("name", SPEC_LISTS)
def test_spec_code_lists_exist_with_four_languages(catalog: Catalog, name: str) -> None:
    codelist = catalog.codelists[name]
    assert codelist.codes
    for code in codelist.codes:
        for lang in REQUIRED_LANGUAGES:
            assert code.labels[lang].strip(), (name, code.code, lang)


def test_nationality_covers_the_americas_and_routes(catalog: Catalog) -> None:
    nationality = catalog.codelists["nationality"]
    codes = set(nationality.values)
    assert set(AMERICAS) <= codes and len(AMERICAS) == 35
    assert {
        "AFG",
        "AGO",
        "BGD",
        "CMR",
        "CHN",
        "COD",
        "ERI",
        "ETH",
        "GHA",
        "GIN",
        "IND",
        "NPL",
        "SEN",
    } <= codes
    assert {"SOM", "ESP", "SYR", "UZB", "XXA", "XXX"} <= codes
    others = [c for c in nationality.codes if c.attrs.get("region") == "other"]
    assert len(others) >= 25
    assert nationality.unmapped == "XXX"
    assert all(len(code) == 3 and code.isupper() for code in codes)


def test_age_bands_carry_bounds_and_roll_ups(catalog: Catalog) -> None:
    bands = catalog.codelists["age_band"]
    assert bands.values == ("0_4", "5_11", "12_17", "18_59", "60_plus", "unknown")
    assert bands.get("0_4") is not None and bands.get("0_4").attrs["age_max"] == 4  # type: ignore[union-attr]
    assert bands.expand("0_17") == ("0_4", "5_11", "12_17")
    assert bands.expand("18_plus") == ("18_59", "60_plus")
    assert {"0_5m", "6_23m", "6_59m"} <= {c.code for c in bands.codes}


def test_unmapped_fallbacks_follow_the_spec(catalog: Catalog) -> None:
    fallbacks = {name: c.unmapped for name, c in catalog.codelists.items()}
    assert fallbacks["sex_gender"] == "u"
    assert fallbacks["population_type"] == "unknown"
    assert fallbacks["priority_need"] == "other"
    assert fallbacks["yes_no_dk_refused"] is None  # never invent "don't know"


def test_scores_use_the_standard_weights(catalog: Catalog) -> None:
    fcs = catalog.scores["fcs"]
    assert dict(fcs.weights) == {
        "cereals": 2,
        "pulses": 3,
        "vegetables": 1,
        "fruit": 1,
        "meat_fish": 4,
        "dairy": 4,
        "sugar": 0.5,
        "oil": 0.5,
    }
    assert dict(fcs.thresholds) == {"poor": 21, "borderline": 35}
    assert list(catalog.scores["rcsi"].weights.values()) == [1, 2, 1, 3, 1]
    assert catalog.wg.cutoff == {"a_lot", "cannot"}


def test_every_field_has_a_ruta_hxl_tag(catalog: Catalog) -> None:
    sex = catalog.field("respondent.sex_gender")
    assert sex.hxl == "#x_respondent+sex_gender"
    assert catalog.field("members[].age_years").hxl == "#x_members+age_years"
    for field in catalog.fields.values():
        assert parse_hxl(field.hxl) is not None
        if field.coded:
            assert field.codelist in catalog.codelists


def test_short_names_resolve_when_unambiguous(catalog: Catalog) -> None:
    assert catalog.resolve("country_iso3") == "location.country_iso3"
    assert catalog.resolve("members[].age_years") == "members.age_years"
    assert catalog.resolve("sex_gender") == "respondent.sex_gender"  # the roster field is never a default
    assert catalog.resolve("nope") is None


# ------------------------------------------------------------------------------------ broken catalogues


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    target = tmp_path / "catalog"
    shutil.copytree(CATALOG_DIR, target)
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _error(directory: Path) -> str:
    with pytest.raises(CatalogError) as caught:
        validate_catalog(directory)
    return str(caught.value)


def test_unknown_code_list_names_file_and_key(copy: Path) -> None:
    _edit(copy / "fields.yaml", "codelist: intention}", "codelist: intentions}")
    message = _error(copy)
    assert "fields.yaml: sections.context.intention.codelist: unknown code list 'intentions'" in message


def test_missing_language_label_names_the_code(copy: Path) -> None:
    _edit(copy / "codelists" / "mode.yaml", "pt: Por telefone, ", "")
    assert "codelists/mode.yaml: codes.phone.label: missing pt label" in _error(copy)


def test_duplicate_code_is_rejected(copy: Path) -> None:
    _edit(copy / "codelists" / "direction.yaml", "  - code: out", "  - code: in")
    assert "codelists/direction.yaml: codes.in: duplicate code" in _error(copy)


def test_unquoted_numeric_looking_code_says_to_quote_it(copy: Path) -> None:
    _edit(copy / "codelists" / "age_band.yaml", 'code: "5_11"', "code: 5_11")
    assert "quote it in YAML" in _error(copy)


def test_bad_expression_names_the_indicator(copy: Path) -> None:
    _edit(copy / "indicators.yaml", '{field: context.used_guide_smuggler, eq: "y"}', "{field: x, equals: y}")
    assert "indicators.yaml: FLW-08.numerator.where: bad expression" in _error(copy)


def test_unknown_field_and_code_in_an_indicator_are_reported(copy: Path) -> None:
    _edit(copy / "indicators.yaml", "needs.water_source_safe, eq", "needs.water_safe, eq")
    _edit(copy / "indicators.yaml", "in: [some, high]", "in: [some, very]")
    message = _error(copy)
    assert "NEED-03.numerator.where: unknown field 'needs.water_safe'" in message
    assert "PROT-02.numerator.where: ['very'] not in code list 'unsafe_likert'" in message


def test_member_field_outside_person_basis_is_rejected(copy: Path) -> None:
    _edit(
        copy / "indicators.yaml",
        '{any_member: {field: members.is_uasc, eq: "y"}}',
        '{field: members.is_uasc, eq: "y"}',
    )
    assert "needs person basis or any_member" in _error(copy)


def test_invalid_yaml_is_reported_with_its_file(copy: Path) -> None:
    (copy / "codelists" / "mode.yaml").write_text("name: mode\ncodes: [\n", encoding="utf-8")
    assert "codelists/mode.yaml: not valid YAML" in _error(copy)


def test_conflicting_lookup_variant_is_rejected(copy: Path) -> None:
    _edit(copy / "lookups" / "labels.yaml", "m: [Hombre, Hombres,", "m: [Mujer, Hombre, Hombres,")
    assert "variant 'Mujer' also names" in _error(copy)


def test_adding_an_indicator_is_a_data_change(copy: Path) -> None:
    path = copy / "indicators.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["indicators"].append(
        {
            "code": "RESP-03",
            "name": {
                "es": "Información PSEA",
                "en": "PSEA information",
                "pt": "Informação PSEA",
                "fr": "Info PSEA",
            },
            "unit": "pct",
            "level": "group",
            "numerator": {"where": {"field": "assistance.received_psea_info", "eq": "y"}},
            "denominator": {"answered": "assistance.received_psea_info"},
            "sources": ["assistance.received_psea_info"],
            "alignment": {"other": "PSEA"},
        }
    )
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert "RESP-03" in validate_catalog(copy).indicators


def test_catalogue_files_sit_inside_the_package_for_package_data() -> None:
    # pyproject ships *.yaml for every package found under app*, including the catalog/ data folders.
    files = {p.relative_to(CATALOG_DIR).as_posix() for p in CATALOG_DIR.rglob("*.yaml")}
    assert {"fields.yaml", "indicators.yaml", "codelists/nationality.yaml", "lookups/labels.yaml"} <= files
