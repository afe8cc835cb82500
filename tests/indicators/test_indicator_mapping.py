"""Mapping suggestions from HXL tags and labels in es/pt/en/fr/ht, and mapping validation."""

from __future__ import annotations

from typing import Any

import pytest
from indicator_builders import options, question, repeat, schema

from app.indicators.catalog import Catalog
from app.indicators.mapping import (
    ERROR,
    WARNING,
    FieldRule,
    MappingDocument,
    suggest_mapping,
    validate_mapping,
)
from forms.schema import FormSchema

ROSTER = "/data/membros"


def portuguese_form() -> FormSchema:
    """A partner's Portuguese form: numeric choice codes, a roster, ranked needs, free text."""
    return schema(
        [
            question("/data/start", "dateTime"),
            question("/data/end", "dateTime"),
            question("/data/q1", "select1", "Sexo do respondente", choices="sexo", lang="pt"),
            question("/data/q2", "int", "Idade", lang="pt"),
            question("/data/q3", "select1", "Nacionalidade", choices="nac", lang="pt"),
            question("/data/q4", "select1", "Tipo de população", choices="perfil", lang="pt"),
            question("/data/q5", "string", "Nome completo", lang="pt"),
            question("/data/q6", "string", "Observações", lang="pt"),
            repeat(ROSTER, "Membros"),
            question(f"{ROSTER}/m1", "select1", "Sexo", choices="sexo", repeat=ROSTER, lang="pt"),
            question(f"{ROSTER}/m2", "int", "Idade", repeat=ROSTER, lang="pt"),
            question(
                f"{ROSTER}/m3", "select1", "Frequenta a escola?", choices="simnao", repeat=ROSTER, lang="pt"
            ),
            question("/data/n1", "select1", "Primeira necessidade prioritária", choices="nec", lang="pt"),
            question("/data/n2", "select1", "Segunda necessidade prioritária", choices="nec", lang="pt"),
            question("/data/gps", "geopoint", "Localização", lang="pt"),
        ],
        {
            "sexo": options(("1", "Feminino"), ("2", "Masculino"), ("3", "Outro"), lang="pt"),
            "nac": options(
                ("1", "Venezuelana"), ("2", "Haitiana"), ("3", "Cubana"), ("4", "Outra"), lang="pt"
            ),
            "perfil": options(("1", "Em trânsito"), ("2", "Em destino"), ("3", "Pendular"), lang="pt"),
            "simnao": options(("1", "Sim"), ("2", "Não"), ("8", "Não sabe"), lang="pt"),
            "nec": options(("a", "Alimentação"), ("b", "Abrigo"), ("c", "Documentação"), lang="pt"),
        },
        form_id="monitoreo_pt",
    )


def targets(doc: MappingDocument) -> dict[str, str | None]:
    return {q: r.to for q, r in doc.fields.items() if not r.drop}


def recodes(doc: MappingDocument, list_name: str) -> dict[str, str]:
    return {value: r.code for value, r in doc.choices[list_name].items()}


def test_portuguese_numeric_choices_are_recoded_from_labels(catalog: Catalog) -> None:
    doc = suggest_mapping(portuguese_form(), catalog)
    assert recodes(doc, "sexo") == {"1": "f", "2": "m", "3": "x"}
    assert recodes(doc, "nac") == {"1": "VEN", "2": "HTI", "3": "CUB"}
    assert recodes(doc, "perfil") == {"1": "in_transit", "2": "in_destination", "3": "pendular"}
    assert recodes(doc, "simnao") == {"1": "y", "2": "n", "8": "dk"}
    feminino = doc.choices["sexo"]["1"]
    assert feminino.confidence is not None and feminino.confidence >= 0.9
    assert "Feminino" in feminino.reason


def test_portuguese_questions_map_to_record_and_roster(catalog: Catalog) -> None:
    doc = suggest_mapping(portuguese_form(), catalog)
    assert targets(doc) == {
        "/data/end": "submission.collected_at",
        "/data/q1": "respondent.sex_gender",
        "/data/q2": "respondent.age_years",
        "/data/q3": "respondent.nationality_iso3",
        "/data/q4": "context.population_type",
        f"{ROSTER}/m1": "members.sex_gender",
        f"{ROSTER}/m2": "members.age_years",
        f"{ROSTER}/m3": "members.school_enrolled",
        "/data/n1": "needs.priority_needs",
        "/data/n2": "needs.priority_needs",
    }
    assert doc.fields["/data/end"].transform == "date"
    assert (doc.fields["/data/n1"].rank, doc.fields["/data/n2"].rank) == (1, 2)
    assert {q for q, r in doc.fields.items() if r.drop} == {"/data/start", "/data/q5", "/data/gps"}
    assert all(r.reason and r.confidence is not None for r in doc.fields.values())


def test_unmatched_questions_and_choices_are_listed_not_dropped(catalog: Catalog) -> None:
    doc = suggest_mapping(portuguese_form(), catalog)
    listed = {(u.kind, u.path, u.value) for u in doc.unmapped}
    assert ("question", "/data/q6", None) in listed
    assert ("choice", "nac", "4") in listed  # "Outra" nationality: becomes XXX and waits for review
    assert "'XXX'" in next(u.reason for u in doc.unmapped if u.value == "4")


def test_suggestion_validates_with_only_review_warnings(catalog: Catalog) -> None:
    form = portuguese_form()
    problems = validate_mapping(suggest_mapping(form, catalog), form, catalog)
    assert [p for p in problems if p.severity == ERROR] == []
    # A suggestion cannot know whether the roster lists the respondent: the mapper must say so.
    assert [p.where for p in problems if p.severity == WARNING] == [
        "choices.nac.4",
        "roster_includes_respondent",
    ]


def test_spanish_labels_and_answers(catalog: Catalog) -> None:
    form = schema(
        [
            question("/data/sexo", "select1", "Sexo", choices="sexo", lang="es"),
            question("/data/edad", "int", "¿Cuál es su edad?", lang="es"),
            question("/data/nac", "select_multiple_placeholder", "Nacionalidad", choices="pais", lang="es"),
            question("/data/pob", "select1", "Tipo de población", choices="pob", lang="es"),
            question("/data/guia", "select1", "¿Usó un guía o coyote?", choices="sino", lang="es"),
            question(
                "/data/dest", "select1", "¿Cuál es su país de destino final?", choices="pais", lang="es"
            ),
        ],
        {
            "sexo": options(("1", "Mujer"), ("2", "Hombre"), ("99", "Prefiere no responder"), lang="es"),
            "pais": options(
                ("1", "Venezolana"), ("2", "Colombiano"), ("3", "Estados Unidos"), ("4", "Perú"), lang="es"
            ),
            "pob": options(
                ("1", "En tránsito"), ("2", "Con vocación de permanencia"), ("3", "Pendular"), lang="es"
            ),
            "sino": options(
                ("1", "Sí"), ("0", "No"), ("8", "No sabe"), ("9", "Prefiere no responder"), lang="es"
            ),
        },
    )
    form.fields[2] = question("/data/nac", "select", "Nacionalidad", choices="pais", lang="es")
    doc = suggest_mapping(form, catalog)
    assert targets(doc) == {
        "/data/sexo": "respondent.sex_gender",
        "/data/edad": "respondent.age_years",
        "/data/nac": "respondent.nationality_iso3",
        "/data/pob": "context.population_type",
        "/data/guia": "context.used_guide_smuggler",
        "/data/dest": "context.country_intended_dest_iso3",
    }
    assert recodes(doc, "sexo") == {"1": "f", "2": "m", "99": "u"}
    assert recodes(doc, "pais") == {"1": "VEN", "2": "COL", "3": "USA", "4": "PER"}
    assert recodes(doc, "pob") == {"1": "in_transit", "2": "in_destination", "3": "pendular"}
    assert recodes(doc, "sino") == {"1": "y", "0": "n", "8": "dk", "9": "refused"}


def test_the_next_country_on_the_route_is_told_from_the_final_destination(catalog: Catalog) -> None:
    countries = {"pais": options(("1", "Ecuador"), ("2", "Perú"), lang="es")}
    by_label = schema(
        [
            question("/data/p", "select1", "¿Cuál es su próximo país de destino?", choices="pais", lang="es"),
            question("/data/f", "select1", "¿Cuál es su país de destino final?", choices="pais", lang="es"),
        ],
        countries,
    )
    # "próximo país de destino" (four words) is longer than the final destination's "país de destino".
    assert targets(suggest_mapping(by_label, catalog)) == {
        "/data/p": "context.country_next_dest_iso3",
        "/data/f": "context.country_intended_dest_iso3",
    }
    by_tag = schema(
        [
            question("/data/a", "select1", "P1", choices="pais", hxl="#country+next+code"),
            question("/data/b", "select1", "P2", choices="pais", hxl="#country+dest"),
        ],
        countries,
    )
    assert targets(suggest_mapping(by_tag, catalog)) == {
        "/data/a": "context.country_next_dest_iso3",
        "/data/b": "context.country_intended_dest_iso3",
    }
    # A partner tagging the next country #country+dest+next does not get the final destination.
    both = schema([question("/data/c", "select1", "P3", choices="pais", hxl="#country+dest+next")], countries)
    assert targets(suggest_mapping(both, catalog)) == {"/data/c": "context.country_next_dest_iso3"}


def test_french_and_kreyol_labels_in_a_multilingual_form(catalog: Catalog) -> None:
    form = schema(
        [
            question("/data/s", "select1", {"fr": "Sexe", "ht": "Sèks"}, choices="s"),
            question("/data/n", "select1", {"fr": "Nationalité", "ht": "Nasyonalite"}, choices="n"),
        ],
        {
            "s": [
                *options(("1", "Femme"), lang="fr"),
                *options(("2", "Gason"), lang="ht"),
            ],
            "n": options(("1", "Ayisyen"), ("2", "vénézuélienne"), ("3", "Nationalité: Cubaine"), lang="ht"),
        },
    )
    doc = suggest_mapping(form, catalog)
    assert targets(doc) == {"/data/s": "respondent.sex_gender", "/data/n": "respondent.nationality_iso3"}
    assert recodes(doc, "s") == {"1": "f", "2": "m"}
    assert recodes(doc, "n") == {"1": "HTI", "2": "VEN", "3": "CUB"}
    assert doc.choices["n"]["3"].confidence == pytest.approx(0.7)  # found inside a longer label


def test_matching_ignores_case_accents_and_punctuation(catalog: Catalog) -> None:
    form = schema(
        [question("/data/x", "select1", "  NACIONALIDADE?? ", choices="n", lang="pt")],
        {"n": options(("a", "VENEZUELANO"), ("b", "haitiano(a)"), lang="pt")},
    )
    doc = suggest_mapping(form, catalog)
    assert targets(doc) == {"/data/x": "respondent.nationality_iso3"}
    assert recodes(doc, "n")["a"] == "VEN"


def test_hxl_tags_win_over_labels_and_carry_ranks(catalog: Catalog) -> None:
    roster = "/data/hh"
    form = schema(
        [
            question(
                "/data/a", "select1", "Nacionalidad", choices="yn", hxl="#x_context+used_guide_smuggler"
            ),
            question("/data/b", "int", "Pregunta 7", hxl="#respondee+age"),
            question("/data/c", "select1", "Necesidad", choices="need", hxl="#x_needs+priority_needs+rank2"),
            question("/data/d", "select1", "Necesidad", choices="need", hxl="#x_needs+priority_needs+rank1"),
            question("/data/e", "select1", "País", choices="c", hxl="#Country +Dest"),
            question("/data/f", "string", "Departamento", hxl="#adm1+code"),
            repeat(roster),
            question(f"{roster}/s", "select1", "P1", choices="sx", repeat=roster, hxl="#respondee+sex"),
            question(f"{roster}/g", "int", "P2", repeat=roster, hxl="#x_members+age_years"),
        ],
        {
            "yn": options(("y", "Sí"), ("n", "No")),
            "need": options(("1", "Comida"), ("2", "Agua")),
            "c": options(("PAN", "Panamá"), ("MEX", "México")),
            "sx": options(("f", "Mujer"), ("m", "Hombre")),
        },
    )
    doc = suggest_mapping(form, catalog)
    assert targets(doc) == {
        "/data/a": "context.used_guide_smuggler",
        "/data/b": "respondent.age_years",
        "/data/c": "needs.priority_needs",
        "/data/d": "needs.priority_needs",
        "/data/e": "context.country_intended_dest_iso3",
        "/data/f": "location.adm1_pcode",
        f"{roster}/s": "members.sex_gender",
        f"{roster}/g": "members.age_years",
    }
    assert (doc.fields["/data/c"].rank, doc.fields["/data/d"].rank) == (2, 1)
    assert doc.fields["/data/a"].confidence == 1.0 and doc.fields["/data/e"].confidence == pytest.approx(0.9)
    assert recodes(doc, "need") == {"1": "food", "2": "water"}
    assert recodes(doc, "c") == {}  # values are already the codes
    assert recodes(doc, "yn") == {}


def test_a_second_question_for_the_same_field_is_listed_with_a_reason(catalog: Catalog) -> None:
    form = schema(
        [
            question("/data/a", "int", "Edad", hxl="#respondee+age"),
            question("/data/b", "int", "Edad"),
        ],
        {},
    )
    doc = suggest_mapping(form, catalog)
    assert targets(doc) == {"/data/a": "respondent.age_years"}
    assert "already filled by /data/a" in next(u.reason for u in doc.unmapped if u.path == "/data/b")


def test_member_only_question_outside_a_roster_is_not_forced(catalog: Catalog) -> None:
    form = schema(
        [question("/data/p", "select1", "¿Está embarazada?", choices="yn")], {"yn": options(("1", "Sí"))}
    )
    doc = suggest_mapping(form, catalog)
    assert targets(doc) == {}
    assert "inside the roster" in doc.unmapped[0].reason


# ------------------------------------------------------------------------------------ validation


def base_form() -> FormSchema:
    return schema(
        [
            question("/data/sexo", "select1", "Sexo", choices="sexo"),
            question("/data/edad", "int", "Edad"),
            question("/data/nota", "string", "Comentario"),
            repeat("/data/hh"),
            question("/data/hh/edad", "int", "Edad", repeat="/data/hh"),
        ],
        {"sexo": options(("1", "Mujer"), ("2", "Hombre"), ("3", "Otro"))},
    )


def problems_of(doc: dict[str, Any], catalog: Catalog) -> set[tuple[str, str, str]]:
    return {(p.severity, p.where, p.message) for p in validate_mapping(doc, base_form(), catalog)}


def where_of(doc: dict[str, Any], catalog: Catalog, severity: str = ERROR) -> set[str]:
    return {w for s, w, _ in problems_of(doc, catalog) if s == severity}


def test_a_correct_document_has_no_problems(catalog: Catalog) -> None:
    doc = {
        "form": {"id": "test_form", "version": "1"},
        "roster_includes_respondent": False,
        "defaults": {"country_iso3": "PER", "population_type": "in_destination"},
        "fields": {
            "/data/sexo": {"to": "respondent.sex_gender"},
            "/data/edad": "respondent.age_years",
            "/data/hh/edad": {"to": "members[].age_years"},
            "nota": {"drop": True},  # a unique name works as well as the path
        },
        "choices": {"sexo": {"1": "f", "2": "m", "3": "x"}},
        "derived": {
            "age_band": {
                "from": "members[].age_years",
                "bins": [0, 5, 18],
                "labels": ["0_4", "5_11", "18_59"],
            }
        },
    }
    assert validate_mapping(doc, base_form(), catalog) == []


def test_validation_reports_each_kind_of_error(catalog: Catalog) -> None:
    doc = {
        "form": {"id": "test_form"},
        "defaults": {"country_iso3": "ZZZ", "nope": 1},
        "fields": {
            "/data/missing": "respondent.age_years",
            "/data/sexo": {"to": "respondent.sexo"},
            "/data/nota": {"to": "respondent.age_years"},
            "/data/edad": {"to": "members[].age_years"},
        },
        "choices": {"sexo": {"1": "female"}, "otra": {"1": "f"}},
        "derived": {"age_band": {"bins": [5, 0], "labels": ["0_4"]}, "magic": {}},
        "drop": ["/data/gone"],
    }
    where = where_of(doc, catalog)
    assert where >= {
        "fields./data/missing",
        "fields./data/sexo",
        "fields./data/edad",
        "choices.otra",
        "defaults.country_iso3",
        "defaults.nope",
        "derived.age_band.bins",
        "derived.magic",
        "drop./data/gone",
    }
    messages = {m for _, _, m in problems_of(doc, catalog)}
    assert "unknown canonical field 'respondent.sexo'" in messages
    assert "member field 'members.age_years' needs a question inside the roster repeat" in messages
    assert "['ZZZ'] not in code list 'nationality'" in messages


def test_type_mismatch_and_codes_outside_the_list(catalog: Catalog) -> None:
    doc = {
        "form": {"id": "test_form"},
        "fields": {"/data/edad": "respondent.sex_gender", "/data/sexo": "respondent.sex_gender"},
        "choices": {"sexo": {"1": "female"}},
    }
    messages = {(w, m) for _, w, m in problems_of(doc, catalog)}
    assert ("fields./data/edad", "a int question cannot fill code field 'respondent.sex_gender'") in messages
    assert ("choices.sexo.1", "'female' is not a code of 'sex_gender' (respondent.sex_gender)") in messages


def test_unrecoded_choice_is_a_review_warning(catalog: Catalog) -> None:
    doc = {
        "form": {"id": "test_form"},
        "fields": {"/data/sexo": "respondent.sex_gender"},
        "choices": {"sexo": {"1": "f"}},
    }
    assert where_of(doc, catalog, WARNING) == {"choices.sexo.2", "choices.sexo.3"}


def test_malformed_document_is_one_clear_problem(catalog: Catalog) -> None:
    problems = validate_mapping(
        {"form": {"id": "x"}, "fields": ["not", "a", "mapping"]}, base_form(), catalog
    )
    assert [(p.severity, p.where) for p in problems] == [(ERROR, "fields")]


def test_document_round_trips_through_its_dict_shape(catalog: Catalog) -> None:
    doc = suggest_mapping(portuguese_form(), catalog)
    again = MappingDocument.from_dict(doc.to_dict())
    assert again == doc
    assert doc.to_dict()["fields"][f"{ROSTER}/m2"]["to"] == "members[].age_years"
    assert (
        FieldRule("q", to="members.age_years")
        == MappingDocument.from_dict({"form": {"id": "f"}, "fields": {"q": "members[].age_years"}}).fields[
            "q"
        ]
    )


def test_a_label_phrase_is_not_enough_when_no_answer_is_a_code(catalog: Catalog) -> None:
    # A coping-strategy question mentions "means of transport" but is answered yes / no: not the modes.
    form = schema(
        [
            question(
                "/data/sold_assets",
                "select1",
                "Did anyone sell productive assets or means of transport?",
                choices="yn",
                lang="en",
            ),
            question("/data/how", "select", "Means of transport used", choices="modes", lang="en"),
        ],
        {
            "yn": options(("1", "Yes"), ("2", "No"), lang="en"),
            "modes": options(("a", "Walking"), ("b", "Bus"), lang="en"),
        },
    )
    doc = suggest_mapping(form, catalog)
    assert "/data/sold_assets" not in doc.fields
    assert any(u.path == "/data/sold_assets" and "none of its answers" in u.reason for u in doc.unmapped)
    assert doc.fields["/data/how"].to == "context.transport_modes"
