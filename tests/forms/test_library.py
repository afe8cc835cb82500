"""The bundled XLSForms: regenerated from build.py, converted by Ruta and by pyxform, passed by ODK Validate,
tagged with the canonical fields of INDICATORS.md §1, marked where they hold identifiers, labelled in every
language, coded with the §2 vocabularies, and loaded and filled by ODK's own web-form engine."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

import openpyxl
import pytest
from defusedxml import ElementTree
from pyxform import xls2xform

from forms.library import BundledForm, UnknownBundledFormError, bundled_forms, read_bundled
from forms.xlsform import convert
from tests.clients.engine import EngineError, fill_xform
from tools.form_library import build

FMS = "ruta_border_fms"
HH = "ruta_household_needs"
FLOW = "ruta_flow_count"
ACTIVITY = "ruta_activity_report"
SHELTER = "ruta_shelter_status"
# The surveys feed the indicators (tags, sensitivity, canonical codes); the 5W form feeds activity rows.
FORM_IDS = [FMS, HH, FLOW]
ALL_FORM_IDS = [*FORM_IDS, ACTIVITY, SHELTER]
LANGUAGES = ("Español (es)", "English (en)", "Português (pt)", "Français (fr)", "Kreyòl (ht)")
XF = "{http://www.w3.org/2002/xforms}"
JR_TEMPLATE = "{http://openrosa.org/javarosa}template"

# --- INDICATORS.md §2 vocabularies (what the forms must store, with no recoding) -------------------------
YES_NO = frozenset({"yes", "no"})
YNDR = frozenset({"yes", "no", "dk", "refused"})
YNR = frozenset({"yes", "no", "refused"})
SEX_GENDER = frozenset({"f", "m", "x", "u"})
SEX_BIRTH = frozenset({"f", "m", "intersex", "u"})
GENDER_IDENTITY = frozenset({"woman", "man", "trans_woman", "trans_man", "non_binary", "other", "u"})
POPULATION_TYPE = frozenset(
    {
        "in_destination",
        "in_transit",
        "pendular",
        "returnee_col",
        "returnee_other",
        "host_community",
        "unknown",
    }
)
ROUTE_STAGE = frozenset({"origin", "transit", "destination", "return", "circular", "stranded", "unknown"})
TRANSPORT_MODE = frozenset(
    {"walk", "bus_formal", "bus_informal", "hitchhike", "boat", "humanitarian_transport", "plane", "other"}
)
WG_SCALE = frozenset({"none", "some", "a_lot", "cannot", "refused", "dk"})
PRIORITY_NEED = frozenset(
    [
        "food",
        "water",
        "sanitation_hygiene",
        "shelter",
        "nfi_clothing",
        "health",
        "mental_health",
        "medicines",
        "nutrition_infant",
        "education",
        "cash",
        "employment_income",
        "transport",
        "information",
        "legal_documentation",
        "regularisation",
        "asylum_access",
        "family_reunification",
        "communication_phone_internet",
        "protection_safety",
        "gbv_services",
        "child_protection_services",
        "other",
        "none",
        "refused",
    ]
)
INCIDENT_TYPE = frozenset(
    [
        "theft_robbery",
        "extortion_bribery",
        "physical_violence",
        "sexual_violence",
        "threats_intimidation",
        "detention",
        "deportation_pushback",
        "deception_fraud",
        "forced_labour",
        "kidnapping",
        "family_separation",
        "denial_of_entry",
        "death_disappearance_witnessed",
        "other",
        "none",
        "refused",
    ]
)
LEGAL_STATUS = frozenset(
    {"REF", "ASY", "OIP", "STA", "regular_migrant", "irregular_migrant", "national", "unknown"}
)
SITE_TYPE = frozenset({"border_crossing", "transit_centre", "shelter", "bus_terminal", "community", "other"})
MODE = frozenset({"face_to_face", "phone", "remote"})
INTENTION = frozenset({"stay", "continue", "return", "unsure"})
ISO3 = re.compile(r"^[A-Z]{3}$")  # ISO 3166-1 alpha-3, plus ICAO XXA (stateless) and XXX (unspecified)
SITE_CODE = re.compile(r"^([A-Z]{3}-[A-Z]{3}|other)$")
PCODE = re.compile(r"^([A-Z]{2}[0-9]{2,7}|other)$")

WG = ("seeing", "hearing", "walking", "cognition", "selfcare", "communication")
FCS = ("cereals", "pulses", "vegetables", "fruit", "meat_fish", "dairy", "sugar", "oil")
# rCSI items in the standard order, whose weights are 1, 2, 1, 3, 1.
RCSI = ("less_preferred", "borrow_food", "limit_portion", "restrict_adults", "reduce_meals")

# Canonical field (INDICATORS §1, "section.field") -> allowed choice values for the select that feeds it.
FIELD_VOCABULARY: dict[str, frozenset[str] | re.Pattern[str]] = {
    "submission.consent": YES_NO,
    "submission.mode": MODE,
    "location.country_iso3": ISO3,
    "location.site_code": SITE_CODE,
    "location.site_type": SITE_TYPE,
    "location.adm1_pcode": PCODE,
    "location.adm2_pcode": PCODE,
    "context.population_type": POPULATION_TYPE,
    "context.route_stage": ROUTE_STAGE,
    "context.country_origin_iso3": ISO3,
    "context.country_residence_prev_iso3": ISO3,
    "context.country_intended_dest_iso3": ISO3,
    "context.country_next_dest_iso3": ISO3,
    "context.countries_transited": ISO3,
    "context.transport_modes": TRANSPORT_MODE,
    "context.used_guide_smuggler": YNR,
    "context.intention": INTENTION,
    "respondent.sex_gender": SEX_GENDER,
    "respondent.sex_birth": SEX_BIRTH,
    "respondent.gender_identity": GENDER_IDENTITY,
    "respondent.nationality_iso3": ISO3,
    "respondent.has_valid_id_doc": YNDR,
    "respondent.has_regular_status": YNDR,
    "respondent.legal_status": LEGAL_STATUS,
    "respondent.pregnant_lactating": YNDR,
    "respondent.chronic_illness": YNDR,
    "members.sex_gender": SEX_GENDER,
    "members.is_uasc": YNDR,
    "members.pregnant_lactating": YNDR,
    "members.chronic_illness": YNDR,
    "members.school_enrolled": YNDR,
    "members.health_need_unmet": YNDR,
    "needs.priority_needs": PRIORITY_NEED,
    "needs.water_source_safe": YNDR,
    "needs.sanitation_access": YNDR,
    "needs.shower_access": YNDR,
    "needs.menstrual_products_access": YNDR | {"not_applicable"},
    "needs.health_needed": YNDR,
    "needs.health_accessed": YNDR,
    "needs.legal_help_needed": YNDR,
    "needs.legal_help_received": YNDR,
    "protection.incidents": INCIDENT_TYPE,
    "protection.incidents_country": ISO3,
    "protection.fear_of_return": YNR,
    "protection.child_separated_during_trip": YNDR,
    "assistance.received_assistance_30d": YNDR,
    "assistance.knows_feedback_mechanism": YNDR,
    "assistance.received_psea_info": YNDR,
}
for _domain in WG:
    FIELD_VOCABULARY[f"respondent.wg_{_domain}"] = WG_SCALE
    FIELD_VOCABULARY[f"members.wg_{_domain}"] = WG_SCALE

# Every field a tag may name: INDICATORS §1, plus the extensions these forms add (to be added to §1).
CANONICAL_FIELDS = {
    *FIELD_VOCABULARY,
    "submission.collected_at",
    "submission.observed_hours",
    "location.lat_round",
    "context.unit_of_analysis",
    "context.group_size",
    "context.days_since_departure",
    "members.age_years",
    "respondent.age_years",
    "needs.meals_per_day",
    "needs.slept_last_night",
    "needs.nfi_missing",
    "needs.health_barriers",
    *(f"needs.fcs_{item}" for item in FCS),
    *(f"needs.rcsi_{item}" for item in RCSI),
    "protection.feels_unsafe_gbv",
    "protection.trafficking_indicators",
    "protection.labour_exploitation",
    "assistance.assistance_types",
    # Extensions: FLW-01's direction, FMR-style group counts, legal status (§2 says "its own field").
    "context.direction",
    "context.group_count",
    "context.group_type",
}
TAG = re.compile(
    r"^#x_(submission|location|context|respondent|members|needs|protection|assistance)(\+[a-z][a-z0-9_]*)+$"
)

COMMON_TAGS = {
    "/data/end": "#x_submission+collected_at",
    "/data/consent": "#x_submission+consent",
    "/data/interview_mode": "#x_submission+mode",
    "/data/location/country_iso3": "#x_location+country_iso3",
    "/data/location/site_code": "#x_location+site_code",
    "/data/location/site_type": "#x_location+site_type",
    "/data/respondent/sex_gender": "#x_respondent+sex_gender",
    "/data/respondent/sex_birth": "#x_respondent+sex_birth",
    "/data/respondent/gender_identity": "#x_respondent+gender_identity",
    "/data/respondent/age_years": "#x_respondent+age_years",
    "/data/respondent/nationality_iso3": "#x_respondent+nationality_iso3",
    "/data/respondent/has_valid_id_doc": "#x_respondent+has_valid_id_doc",
    "/data/respondent/has_regular_status": "#x_respondent+has_regular_status",
    "/data/respondent/pregnant_lactating": "#x_respondent+pregnant_lactating",
    "/data/respondent/chronic_illness": "#x_respondent+chronic_illness",
    **{f"/data/respondent/wg_{d}": f"#x_respondent+wg_{d}" for d in WG},
    "/data/members/m_sex_gender": "#x_members+sex_gender",
    "/data/members/m_age_years": "#x_members+age_years",
    "/data/members/m_pregnant_lactating": "#x_members+pregnant_lactating",
    "/data/members/m_chronic_illness": "#x_members+chronic_illness",
    **{f"/data/members/m_wg_{d}": f"#x_members+wg_{d}" for d in WG},
    "/data/needs/need_1": "#x_needs+priority_needs+rank1",
    "/data/needs/need_2": "#x_needs+priority_needs+rank2",
    "/data/needs/need_3": "#x_needs+priority_needs+rank3",
    "/data/needs/water_source_safe": "#x_needs+water_source_safe",
    "/data/needs/health_needed": "#x_needs+health_needed",
    "/data/needs/health_accessed": "#x_needs+health_accessed",
    "/data/assistance/received_assistance_30d": "#x_assistance+received_assistance_30d",
    "/data/assistance/assistance_types": "#x_assistance+assistance_types",
    "/data/assistance/knows_feedback_mechanism": "#x_assistance+knows_feedback_mechanism",
    "/data/assistance/received_psea_info": "#x_assistance+received_psea_info",
}
INCIDENT_COUNTRY_TYPES = sorted(INCIDENT_TYPE - {"none", "refused"})
# The contract the indicator mapping is written from: every tagged node of each form, exactly.
EXPECTED_TAGS = {
    FMS: {
        **COMMON_TAGS,
        "/data/context/unit_of_analysis": "#x_context+unit_of_analysis",
        "/data/context/population_type": "#x_context+population_type",
        "/data/context/route_stage": "#x_context+route_stage",
        "/data/context/direction": "#x_context+direction",
        "/data/context/group_size": "#x_context+group_size",
        **{
            f"/data/context/n_{sex}_{band}": f"#x_context+group_count+{sex}+age{band}"
            for sex in ("f", "m")
            for band in ("0_4", "5_11", "12_17", "18_59", "60_plus")
        },
        "/data/context/n_x": "#x_context+group_count+x",
        "/data/members/m_is_uasc": "#x_members+is_uasc",
        "/data/route/country_origin_iso3": "#x_context+country_origin_iso3",
        "/data/route/country_residence_prev_iso3": "#x_context+country_residence_prev_iso3",
        "/data/route/country_intended_dest_iso3": "#x_context+country_intended_dest_iso3",
        "/data/route/countries_transited": "#x_context+countries_transited",
        "/data/route/days_since_departure": "#x_context+days_since_departure",
        "/data/route/transport_modes": "#x_context+transport_modes",
        "/data/route/used_guide_smuggler": "#x_context+used_guide_smuggler",
        "/data/route/intention": "#x_context+intention",
        "/data/needs/meals_per_day": "#x_needs+meals_per_day",
        "/data/needs/slept_last_night": "#x_needs+slept_last_night",
        "/data/protection/incidents": "#x_protection+incidents",
        **{
            f"/data/protection/incident_country_{t}": f"#x_protection+incidents_country+{t}"
            for t in INCIDENT_COUNTRY_TYPES
        },
        "/data/protection/feels_unsafe_gbv": "#x_protection+feels_unsafe_gbv",
        "/data/protection/trafficking_indicators": "#x_protection+trafficking_indicators",
        "/data/protection/labour_exploitation": "#x_protection+labour_exploitation",
        "/data/protection/fear_of_return": "#x_protection+fear_of_return",
        "/data/protection/child_separated_during_trip": "#x_protection+child_separated_during_trip",
    },
    HH: {
        **COMMON_TAGS,
        "/data/location/adm1_pcode": "#x_location+adm1_pcode",
        "/data/location/adm2_pcode": "#x_location+adm2_pcode",
        "/data/respondent/legal_status": "#x_respondent+legal_status",
        "/data/household/unit_of_analysis": "#x_context+unit_of_analysis",
        "/data/household/population_type": "#x_context+population_type",
        "/data/household/route_stage": "#x_context+route_stage",
        "/data/household/country_origin_iso3": "#x_context+country_origin_iso3",
        "/data/household/intention": "#x_context+intention",
        "/data/household/hh_size": "#x_context+group_size",
        "/data/members/m_school_enrolled": "#x_members+school_enrolled",
        "/data/members/m_health_need_unmet": "#x_members+health_need_unmet",
        **{f"/data/needs/fcs_{i}": f"#x_needs+fcs_{i}" for i in FCS},
        **{f"/data/needs/rcsi_{i}": f"#x_needs+rcsi_{i}" for i in RCSI},
        "/data/needs/sanitation_access": "#x_needs+sanitation_access",
        "/data/needs/shower_access": "#x_needs+shower_access",
        "/data/needs/menstrual_products_access": "#x_needs+menstrual_products_access",
        "/data/needs/nfi_missing": "#x_needs+nfi_missing",
        "/data/needs/health_barriers": "#x_needs+health_barriers",
        "/data/needs/legal_help_needed": "#x_needs+legal_help_needed",
        "/data/needs/legal_help_received": "#x_needs+legal_help_received",
        "/data/follow_up/gps": "#x_location+lat_round+lon_round",
    },
    FLOW: {
        "/data/end": "#x_submission+collected_at",
        "/data/point/country_iso3": "#x_location+country_iso3",
        "/data/point/site_code": "#x_location+site_code",
        "/data/point/observed_hours": "#x_submission+observed_hours",
        "/data/flow/direction": "#x_context+direction",
        "/data/flow/nationality_iso3": "#x_respondent+nationality_iso3",
        "/data/flow/group_type": "#x_context+group_type",
        "/data/flow/transport_modes": "#x_context+transport_modes",
        "/data/flow/country_next_dest_iso3": "#x_context+country_next_dest_iso3",
        "/data/flow/country_intended_dest_iso3": "#x_context+country_intended_dest_iso3",
        "/data/flow/group_size": "#x_context+group_size",
        **{
            f"/data/flow/n_{sex}_{band}": f"#x_context+group_count+{sex}+age{band}"
            for sex in ("f", "m")
            for band in ("0_4", "5_11", "12_17", "18_59", "60_plus")
        },
        "/data/flow/n_x": "#x_context+group_count+x",
    },
}
EXPECTED_SENSITIVE = {
    FMS: {
        "/data/respondent/nationality_other",
        "/data/route/transport_other",
        "/data/needs/need_other",
        "/data/protection/incident_other",
        "/data/assistance/assistance_other",
    },
    HH: {
        "/data/location/adm1_other",
        "/data/location/adm2_other",
        "/data/respondent/nationality_other",
        "/data/members/m_name",
        "/data/needs/need_other",
        "/data/assistance/assistance_other",
        "/data/follow_up/phone_number",
        "/data/follow_up/gps",
    },
    # A count of people passing a point asks nothing that could identify anyone.
    FLOW: set(),
}


# --- helpers ------------------------------------------------------------------------------------------


def renamed_workbook(data: bytes) -> bytes:
    """The XLSForm with Kobo's ``hxl`` / ``sensitive`` headers renamed to pyxform's instance:: columns."""
    book = openpyxl.load_workbook(io.BytesIO(data))
    for cell in book["survey"][1]:
        if cell.value in {"hxl", "sensitive"}:
            cell.value = f"instance::{'hxl' if cell.value == 'hxl' else 'ruta_sensitive'}"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def sheet_rows(data: bytes, sheet: str) -> list[dict[str, Any]]:
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    rows = list(book[sheet].iter_rows(values_only=True))
    header = [str(cell) for cell in rows[0]]
    return [dict(zip(header, row, strict=True)) for row in rows[1:] if any(row)]


def instance_nodes(xform: bytes) -> Iterator[tuple[str, Element]]:
    """(absolute path, element) for every node of the primary instance, repeat templates included."""
    model = ElementTree.fromstring(xform).find(f".//{XF}model")
    primary = model.find(f"{XF}instance") if model is not None else None  # the first instance, with no id
    assert primary is not None
    root = next(iter(primary))

    def walk(element: Element, path: str) -> Iterator[tuple[str, Element]]:
        yield path, element
        for child in element:
            yield from walk(child, f"{path}/{child.tag.removeprefix(XF)}")

    yield from walk(root, "/data")


def instance_values(xml: str) -> dict[str, list[str]]:
    """Leaf values of a submitted instance by path (repeat positions dropped, values in document order)."""
    values: dict[str, list[str]] = {}

    def walk(element: Element, path: str) -> None:
        children = list(element)
        if not children:
            values.setdefault(path, []).append(element.text or "")
        for child in children:
            walk(child, f"{path}/{child.tag}")

    walk(ElementTree.fromstring(xml.encode()), "/data")
    return values


@pytest.fixture(scope="module")
def xforms() -> dict[str, bytes]:
    """Each bundled form converted once by Ruta's own converter (which carries hxl/sensitive)."""
    return {
        form.form_id: convert(read_bundled(form.form_id), filename=form.filename).xform
        for form in bundled_forms()
    }


# --- the library module --------------------------------------------------------------------------------


def test_bundled_forms_list_the_shipped_forms_with_their_settings_form_id() -> None:
    forms = bundled_forms()
    assert [form.form_id for form in forms] == ALL_FORM_IDS
    assert [form.form_id for form in forms if form.kind == "survey"] == FORM_IDS
    assert all(isinstance(form, BundledForm) for form in forms)
    for form in forms:
        data = read_bundled(form.form_id)
        assert data[:2] == b"PK"
        settings = sheet_rows(data, "settings")[0]
        assert settings["form_id"] == form.form_id
        assert settings["version"] == build.VERSION
        assert settings["default_language"] == "Español (es)"
        assert settings["instance_name"]


def test_read_bundled_refuses_an_unknown_form_id() -> None:
    with pytest.raises(UnknownBundledFormError, match="ruta_border_fms"):
        read_bundled("no_such_form")


def test_committed_workbooks_are_what_build_py_writes(tmp_path: Path) -> None:
    written = build.build(tmp_path)
    assert sorted(path.name for path in written) == sorted(form.filename for form in bundled_forms())
    for path in written:
        form_id = path.stem
        assert path.read_bytes() == read_bundled(form_id), (
            f"{path.name} is stale: run python -m tools.form_library.build"
        )


# --- conversion and validation -----------------------------------------------------------------------


@pytest.mark.parametrize("form_id", ALL_FORM_IDS)
def test_form_converts_without_warnings_and_passes_odk_validate(form_id: str) -> None:
    warnings: list[str] = []
    result = xls2xform.convert(
        xlsform=renamed_workbook(read_bundled(form_id)), file_type=".xlsx", validate=True, warnings=warnings
    )
    assert warnings == []
    assert f'id="{form_id}"' in result.xform
    assert f'version="{build.VERSION}"' in result.xform


@pytest.mark.parametrize("form_id", ALL_FORM_IDS)
def test_ruta_converter_keeps_the_form_identity_with_no_warnings(form_id: str) -> None:
    conversion = convert(read_bundled(form_id), filename=f"{form_id}.xlsx")
    assert (conversion.form_id, conversion.version, conversion.warnings) == (form_id, build.VERSION, [])


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_instance_nodes_carry_exactly_the_expected_canonical_hxl_tags(
    form_id: str, xforms: dict[str, bytes]
) -> None:
    tags = {path: node.get("hxl", "") for path, node in instance_nodes(xforms[form_id]) if node.get("hxl")}
    assert tags == EXPECTED_TAGS[form_id]
    for path, tag in tags.items():
        assert TAG.match(tag), f"{path}: {tag} does not follow #x_<section>+<field>"
        section, field = tag.removeprefix("#x_").split("+")[:2]
        assert f"{section}.{field}" in CANONICAL_FIELDS, f"{path}: {section}.{field} is not a canonical field"


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_identifiers_and_free_text_are_marked_sensitive(form_id: str, xforms: dict[str, bytes]) -> None:
    sensitive = {
        path for path, node in instance_nodes(xforms[form_id]) if node.get("ruta_sensitive") == "true"
    }
    assert sensitive == EXPECTED_SENSITIVE[form_id]
    # Every free-text answer may name someone; a site registry code is the one text that cannot.
    text_names = {row["name"] for row in sheet_rows(read_bundled(form_id), "survey") if row["type"] == "text"}
    assert text_names <= {path.rsplit("/", 1)[-1] for path in sensitive}


@pytest.mark.parametrize("form_id", ALL_FORM_IDS)
def test_every_question_and_choice_is_labelled_in_all_five_languages(
    form_id: str, xforms: dict[str, bytes]
) -> None:
    data = read_bundled(form_id)
    unlabelled_types = {"start", "end", "today", "deviceid", "calculate", "end_group", "end_repeat"}
    for row in sheet_rows(data, "survey"):
        if row["type"] in unlabelled_types:
            continue
        for lang in LANGUAGES:
            assert row[f"label::{lang}"], f"{row['name']} has no {lang} label"
        if row[f"hint::{LANGUAGES[0]}"]:
            assert all(row[f"hint::{lang}"] for lang in LANGUAGES), f"{row['name']} lacks a hint translation"
    for row in sheet_rows(data, "choices"):
        for lang in LANGUAGES:
            assert row[f"label::{lang}"], f"choice {row['list_name']}/{row['name']} has no {lang} label"
    # In the XForm: the five itext translations, Spanish by default, none holding pyxform's "-" filler.
    itext = ElementTree.fromstring(xforms[form_id]).find(f".//{XF}itext")
    assert itext is not None
    translations = itext.findall(f"{XF}translation")
    assert [t.get("lang") for t in translations] == list(LANGUAGES)
    assert translations[0].get("default") == "true()"
    for translation in translations:
        texts = ["".join(value.itertext()).strip() for value in translation.iter(f"{XF}value")]
        assert texts
        assert all(text and text != "-" for text in texts), (
            f"an empty or '-' text in {translation.get('lang')}"
        )


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_selects_feeding_canonical_fields_store_the_canonical_codes(form_id: str) -> None:
    data = read_bundled(form_id)
    choices: dict[str, list[str]] = {}
    for row in sheet_rows(data, "choices"):
        choices.setdefault(row["list_name"], []).append(str(row["name"]))
    checked = 0
    for row in sheet_rows(data, "survey"):
        kind, _, list_name = str(row["type"]).partition(" ")
        if kind not in {"select_one", "select_multiple"} or not row["hxl"]:
            continue
        section, field = str(row["hxl"]).removeprefix("#x_").split("+")[:2]
        vocabulary = FIELD_VOCABULARY.get(f"{section}.{field}")
        if vocabulary is None:  # a Ruta list that §2 does not define (sleeping place, NFI, ...)
            continue
        values = choices[list_name]
        if isinstance(vocabulary, re.Pattern):
            bad = [value for value in values if not vocabulary.match(value)]
        else:
            bad = sorted(set(values) - vocabulary)
        assert not bad, f"{row['name']} ({section}.{field}) offers non-canonical values {bad}"
        checked += 1
    if form_id == FLOW:
        # A tally sheet asks few coded questions; each §2-defined one was checked above.
        assert checked == 5
        return
    assert checked >= 30
    # The §2 lists these forms use are complete, not just canonical.
    assert set(choices["sex_gender"]) == SEX_GENDER
    assert set(choices["population_type"]) == POPULATION_TYPE
    assert set(choices["route_stage"]) == ROUTE_STAGE
    assert set(choices["wg_scale"]) == WG_SCALE
    assert set(choices["priority_need"]) == PRIORITY_NEED
    assert {"XXA", "XXX", "VEN", "HTI", "COL"} <= set(choices["country"])
    if form_id == FMS:
        assert set(choices["transport_mode"]) == TRANSPORT_MODE
        assert set(choices["incident_type"]) == INCIDENT_TYPE
    else:
        assert set(choices["legal_status"]) == LEGAL_STATUS


# --- ODK Web Forms' engine -----------------------------------------------------------------------------

# The project's site registry as the server serves it to devices (``sites.csv``, the ``sites`` entity
# list: name = entity UUID, label, __version, then the registry's properties).
SITES_CSV = (
    "name,label,__version,code,name_es,name_en,name_pt,site_type,adm0_pcode,adm1_pcode,adm2_pcode,"
    "latitude,longitude,capacity,status,geometry\n"
    "u1,Rumichaca,1,ECU-RUM,Rumichaca,,,border_crossing,ECU,EC04,,0.81,-77.66,,active,0.81 -77.66 0 0\n"
    "u2,Cúcuta albergue,2,COL-CUC-014,Cúcuta albergue,,,shelter,COL,CO54,CO54001,,,120,active,\n"
    "u3,Paraguachón,1,COL-PAR,Paraguachón,,,border_crossing,COL,CO44,,,,,closed,\n"
    "u4,Tulcán terminal,1,ECU-TUL,Tulcán terminal,,,bus_terminal,ECU,EC04,,,,,active,\n"
).encode()
SITES = {"sites.csv": SITES_CSV}

FMS_ANSWERS: dict[str, Any] = {
    "consent": "yes",
    "interview_mode": "face_to_face",
    "country_iso3": "ECU",
    "site_code": "ECU-RUM",
    "sex_gender": "f",
    "age_years": "34",
    "nationality_iso3": ["VEN"],
    "has_valid_id_doc": "no",
    "has_regular_status": "no",
    "pregnant_lactating": "no",
    "chronic_illness": "no",
    "population_type": "in_transit",
    "route_stage": "transit",
    "direction": "in",
    "group_size": "4",
    "n_f_18_59": "1",
    "n_f_60_plus": "1",
    "n_m_5_11": "1",
    "n_m_0_4": "1",
    "members": [
        {"m_sex_gender": "f", "m_age_years": "61", "m_chronic_illness": "yes", "m_wg_walking": "a_lot"},
        {"m_sex_gender": "m", "m_age_years": "8", "m_is_uasc": "no", "m_chronic_illness": "no"},
        {"m_sex_gender": "m", "m_age_years": "3", "m_is_uasc": "yes", "m_chronic_illness": "dk"},
    ],
    "country_origin_iso3": "VEN",
    "country_residence_prev_iso3": "COL",
    "country_intended_dest_iso3": "PER",
    "countries_transited": ["COL"],
    "days_since_departure": "6",
    "transport_modes": ["bus_informal", "walk"],
    "used_guide_smuggler": "refused",
    "intention": "continue",
    "need_1": "food",
    "need_2": "shelter",
    "need_3": "health",
    "meals_per_day": "1",
    "water_source_safe": "no",
    "slept_last_night": "street",
    "health_needed": "yes",
    "health_accessed": "no",
    "incidents": ["theft_robbery", "extortion_bribery"],
    "incident_country_theft_robbery": "VEN",
    "incident_country_extortion_bribery": "COL",
    "feels_unsafe_gbv": "some",
    "trafficking_indicators": ["none"],
    "labour_exploitation": ["none"],
    "fear_of_return": "yes",
    "child_separated_during_trip": "no",
    "received_assistance_30d": "yes",
    "assistance_types": ["food", "information"],
    "knows_feedback_mechanism": "no",
    "received_psea_info": "no",
}
_WG_NONE = {f"m_wg_{d}": "none" for d in WG}
HH_ANSWERS: dict[str, Any] = {
    "consent": "yes",
    "country_iso3": "COL",
    "adm1_pcode": "CO54",
    "adm2_pcode": "CO54001",
    "site_code": "COL-CUC-014",
    "sex_gender": "f",
    "age_years": "29",
    "nationality_iso3": ["VEN", "COL"],
    "has_valid_id_doc": "yes",
    "has_regular_status": "yes",
    "legal_status": "regular_migrant",
    "pregnant_lactating": "yes",
    "chronic_illness": "no",
    **{f"wg_{d}": "none" for d in WG},
    "sogi_consent": "no",
    "country_origin_iso3": "VEN",
    "intention": "stay",
    "hh_size": "4",
    "members": [
        {"m_name": "Luis", "m_sex_gender": "m", "m_age_years": "33", "m_relationship": "spouse_partner",
         "m_chronic_illness": "no", "m_health_need_unmet": "no", **_WG_NONE, "m_wg_seeing": "a_lot"},
        {"m_name": "Ana", "m_sex_gender": "f", "m_age_years": "9", "m_relationship": "child",
         "m_chronic_illness": "no", "m_school_enrolled": "no", "m_health_need_unmet": "yes", **_WG_NONE},
        {"m_name": "Bebé", "m_sex_gender": "x", "m_age_years": "0", "m_relationship": "child",
         "m_chronic_illness": "no", "m_health_need_unmet": "no"},
    ],
    "need_1": "employment_income",
    "need_2": "food",
    "need_3": "regularisation",
    "fcs_cereals": "7", "fcs_pulses": "3", "fcs_vegetables": "2", "fcs_fruit": "1",
    "fcs_meat_fish": "1", "fcs_dairy": "0", "fcs_sugar": "6", "fcs_oil": "7",
    "rcsi_less_preferred": "5", "rcsi_borrow_food": "2", "rcsi_limit_portion": "4",
    "rcsi_restrict_adults": "3", "rcsi_reduce_meals": "2",
    "water_source_safe": "yes",
    "sanitation_access": "yes",
    "shower_access": "no",
    "menstrual_products_access": "no",
    "nfi_missing": ["bedding_blankets", "baby_items"],
    "health_needed": "yes",
    "health_accessed": "no",
    "health_barriers": ["no_documents", "cost"],
    "legal_help_needed": "yes",
    "legal_help_received": "no",
    "services_denied": ["health"],
    "received_assistance_30d": "no",
    "knows_feedback_mechanism": "yes",
    "feedback_channels_known": ["whatsapp_sms"],
    "feedback_channel_preferred": "whatsapp_sms",
    "received_psea_info": "yes",
    "followup_consent": "yes",
    "phone_number": "+573001234567",
}  # fmt: skip


@pytest.mark.slow
def test_engine_fills_the_border_survey_with_a_group_of_four(xforms: dict[str, bytes]) -> None:
    result = fill_xform(xforms[FMS], FMS_ANSWERS, attachments=SITES)
    assert (result["status"], result["violations"]) == ("ready", [])
    assert result["instanceID"].startswith("uuid:")
    assert result["attachments"] == []
    values = instance_values(result["xml"])
    assert values["/data/consent"] == ["yes"]
    assert values["/data/end"][0][:4].isdigit()
    assert values["/data/location/site_code"] == ["ECU-RUM"]
    assert values["/data/location/site_type"] == ["border_crossing"]  # the default
    assert values["/data/context/unit_of_analysis"] == ["travel_group"]
    assert values["/data/context/group_size"] == ["4"]
    assert values["/data/members_count"] == ["3"]
    assert values["/data/members/m_index"] == ["2", "3", "4"]  # the respondent is person 1
    assert values["/data/members/m_age_years"] == ["61", "8", "3"]
    assert values["/data/members/m_is_uasc"] == ["no", "yes"]  # asked of the two children only
    assert values["/data/members/m_wg_walking"] == ["a_lot"]  # asked of the adult only
    assert values["/data/route/transport_modes"] == ["walk bus_informal"]
    assert [values[f"/data/needs/need_{rank}"] for rank in (1, 2, 3)] == [["food"], ["shelter"], ["health"]]
    assert values["/data/protection/incidents"] == ["theft_robbery extortion_bribery"]
    assert values["/data/protection/incident_country_extortion_bribery"] == ["COL"]
    assert "/data/protection/incident_country_kidnapping" not in values  # non-relevant nodes are dropped
    assert "/data/respondent/sex_birth" not in values
    assert values["/data/meta/instanceName"][0].startswith("ECU-RUM ")
    assert '<sex_gender hxl="#x_respondent+sex_gender">f</sex_gender>' in result["xml"]


@pytest.mark.slow
@pytest.mark.parametrize("form_id", FORM_IDS)
def test_engine_offers_the_registry_sites_of_the_country_and_not_closed_ones(
    form_id: str, xforms: dict[str, bytes]
) -> None:
    # Answering a closed site makes the harness list what the engine offers for that country, read
    # from the registry's CSV: the open sites of Colombia only (COL-PAR is closed, the rest are ECU).
    consent = {} if form_id == FLOW else {"consent": "yes"}
    answers = {"country_iso3": "COL", "site_code": "COL-PAR"} | consent
    with pytest.raises(EngineError, match=r"COL-PAR is not a choice here \(offered: COL-CUC-014\)"):
        fill_xform(xforms[form_id], answers, attachments=SITES)
    ecuador = {**answers, "country_iso3": "ECU", "site_code": "COL-CUC-014"}
    with pytest.raises(EngineError, match=r"\(offered: ECU-RUM, ECU-TUL\)"):
        fill_xform(xforms[form_id], ecuador, attachments=SITES)


@pytest.mark.slow
def test_engine_fills_the_household_survey_with_three_other_members(xforms: dict[str, bytes]) -> None:
    result = fill_xform(xforms[HH], HH_ANSWERS, lang="en", attachments=SITES)
    assert (result["status"], result["violations"], result["language"]) == ("ready", [], "English (en)")
    values = instance_values(result["xml"])
    assert values["/data/location/adm2_pcode"] == ["CO54001"]
    assert values["/data/respondent/nationality_iso3"] == ["VEN COL"]
    assert values["/data/household/unit_of_analysis"] == ["household"]
    assert values["/data/household/population_type"] == ["in_destination"]  # the default
    assert values["/data/members/m_name"] == ["Luis", "Ana", "Bebé"]
    assert values["/data/members/m_sex_gender"] == ["m", "f", "x"]
    assert values["/data/members/m_school_enrolled"] == ["no"]  # only the 9-year-old is of school age
    assert values["/data/members/m_wg_seeing"] == ["a_lot", "none"]  # persons 5+
    assert values["/data/needs/fcs_meat_fish"] == ["1"]
    assert values["/data/needs/rcsi_restrict_adults"] == ["3"]
    assert values["/data/needs/health_barriers"] == ["cost no_documents"]
    assert values["/data/follow_up/phone_number"] == ["+573001234567"]


@pytest.mark.slow
def test_engine_holds_back_a_group_whose_counts_do_not_add_up(xforms: dict[str, bytes]) -> None:
    result = fill_xform(xforms[FMS], {**FMS_ANSWERS, "n_f_60_plus": "0"}, attachments=SITES)
    assert result["status"] == "pending"
    assert [(v["reference"], v["condition"]) for v in result["violations"]] == [
        ("/data/context/n_x", "constraint")
    ]
    assert result["violations"][0]["message"].startswith("La suma de personas")


@pytest.mark.slow
def test_engine_finalises_a_declined_consent_with_no_answers_and_renders_kreyol(
    xforms: dict[str, bytes],
) -> None:
    result = fill_xform(xforms[HH], {"consent": "no"}, lang="ht", labels=True)
    assert (result["status"], result["violations"]) == ("ready", [])
    values = instance_values(result["xml"])
    assert values["/data/consent"] == ["no"]
    # Only metadata survives: every group after the consent is non-relevant, so none of it is submitted.
    assert set(values) == {
        "/data/start",
        "/data/end",
        "/data/today",
        "/data/deviceid",
        "/data/consent",
        "/data/consent_refused",
        "/data/members_count",
        "/data/meta/instanceID",
        "/data/meta/instanceName",
    }
    assert result["labels"]["/data/consent"].startswith("Bonjou.")
    assert result["labels"]["/data/consent_refused"].startswith("Moun nan pa dakò.")
