"""Two partners' forms add up (issue 16): a Spanish border FMS-like form (free-text nationality, counts by
sex and age band, a roster of the *other* travellers) and a Portuguese form with numeric codes (a roster
listing *everyone*, the respondent first; a 1-4 status question feeding two fields; a site choice recoded
to the registry's code). Submissions are generated here; the expected figures are computed by hand from
the raw answers (``expected_*`` below, which never call the normaliser or the evaluator) and compared with
the reference evaluation cell by cell, per partner and across partners.

A Hypothesis property then checks that adding a partner never changes what the first partner's
submissions give, and that additive counts (numerator, denominator, n, dk/refused) are the partners' sums.
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from app.indicators.catalog import Catalog, load_catalog
from app.indicators.mapping import ERROR, validate_mapping
from app.indicators.normalise import NormalisedResult, normalise
from app.indicators.reference import compute
from app.indicators.suppression import TOTAL
from forms.schema import Choice, FormSchema
from tests.indicators.indicator_builders import question, repeat, schema

DOMAINS = ("seeing", "hearing", "walking", "cognition", "selfcare", "communication")
NAT = "respondent.nationality_iso3"
SEX = "respondent.sex_gender"


def labelled(*items: tuple[str, str], lang: str) -> list[Choice]:
    return [Choice(value, {lang: label}) for value, label in items]


# ---------------------------------------------------------------- partner A: Spanish, counts form
ES_COUNTS = {"n_f_0_4": ("f", "0_4"), "n_f_18_59": ("f", "18_59"), "n_m_5_11": ("m", "5_11")}
ES_COUNTS |= {"n_m_18_59": ("m", "18_59"), "n_m_60_plus": ("m", "60_plus"), "n_x": ("x", None)}


def es_form() -> FormSchema:
    wg_es = [
        question(f"/data/wg_{d}", "select1", f"Dificultad {d}", choices="wg", lang="es") for d in DOMAINS
    ]
    wg_roster = [
        question(f"/data/otros/m_wg_{d}", "select1", choices="wg", repeat="/data/otros", lang="es")
        for d in DOMAINS
    ]
    return schema(
        [
            question("/data/end", "dateTime"),
            question("/data/sexo", "select1", "Sexo", choices="sexo", lang="es"),
            question("/data/edad", "int", "Edad", lang="es"),
            question("/data/nacionalidad", "string", "Nacionalidad", lang="es"),
            question("/data/embarazada", "select1", "¿Embarazada?", choices="sino", lang="es"),
            *wg_es,
            *[question(f"/data/{name}", "int", name, lang="es") for name in ES_COUNTS],
            question("/data/trata", "select", "Trata", choices="trata", lang="es"),
            repeat("/data/otros"),
            question("/data/otros/m_sexo", "select1", choices="sexo", repeat="/data/otros", lang="es"),
            question("/data/otros/m_edad", "int", repeat="/data/otros", lang="es"),
            *wg_roster,
        ],
        {
            "sexo": labelled(("f", "Mujer"), ("m", "Hombre"), ("ns", "Prefiere no decir"), lang="es"),
            "sino": labelled(("si", "Sí"), ("no", "No"), ("ns", "No sabe"), lang="es"),
            "wg": labelled(
                ("ninguna", "Ninguna"),
                ("alguna", "Alguna"),
                ("mucha", "Mucha"),
                ("no_puede", "No puede"),
                lang="es",
            ),
            "trata": labelled(
                ("docs", "Le retuvieron los documentos"),
                ("deuda", "Deuda"),
                ("ninguno", "Ninguno"),
                ("ns", "No sabe"),
                lang="es",
            ),
        },
        form_id="fms_es",
    )


ES_MAPPING: dict[str, Any] = {
    "form": {"id": "fms_es", "version": "1", "lang": "es"},
    "roster_includes_respondent": False,  # DTM style: the roster lists the others
    "defaults": {"country_iso3": "COL", "instrument": "fms"},
    "fields": {
        "/data/end": {"to": "submission.collected_at", "transform": "date"},
        "/data/sexo": "respondent.sex_gender",
        "/data/edad": "respondent.age_years",
        "/data/nacionalidad": "respondent.nationality_iso3",
        "/data/embarazada": "respondent.pregnant_lactating",
        **{f"/data/wg_{d}": f"respondent.wg_{d}" for d in DOMAINS},
        "/data/trata": "protection.trafficking_indicators",
        "/data/otros/m_sexo": "members[].sex_gender",
        "/data/otros/m_edad": "members[].age_years",
        **{f"/data/otros/m_wg_{d}": f"members[].wg_{d}" for d in DOMAINS},
    },
    "counts": {
        f"/data/{name}": {"sex": s} | ({"age_band": b} if b else {}) for name, (s, b) in ES_COUNTS.items()
    },
    "choices": {
        "sexo": {"f": "f", "m": "m"},
        "sino": {"si": "y", "no": "n"},
        "wg": {"ninguna": "none", "alguna": "some", "mucha": "a_lot", "no_puede": "cannot"},
        "trata": {"docs": "documents_withheld", "deuda": "debt_bondage", "ninguno": "none"},
    },
}

# Free-text nationalities as enumerators type them; None = unresolvable (queued, never silently XXX).
DEMONYMS = {
    "venezolana": "VEN",
    "VENEZUELANA": "VEN",
    "Venezolano": "VEN",
    "haitiano": "HTI",
    "COLOMBIANA": "COL",
}
DEMONYMS |= {"marciano": None}


# ---------------------------------------------------------------- partner B: Portuguese, numeric codes
def pt_form() -> FormSchema:
    return schema(
        [
            question("/data/fim", "dateTime"),
            question("/data/posto", "select1", "Posto", choices="posto", lang="pt"),
            question("/data/sexo", "select1", "Sexo", choices="sexo", lang="pt"),
            question("/data/nac", "select1", "Nacionalidade", choices="nac", lang="pt"),
            question("/data/situacao", "select1", "Situação migratória", choices="sit", lang="pt"),
            question("/data/trafico", "select", "Tráfico", choices="traf", lang="pt"),
            repeat("/data/pessoas"),
            question("/data/pessoas/idade", "int", repeat="/data/pessoas", lang="pt"),
            question("/data/pessoas/sexo_p", "select1", choices="sexo", repeat="/data/pessoas", lang="pt"),
            question("/data/pessoas/gravida", "select1", choices="simnao", repeat="/data/pessoas", lang="pt"),
            *[
                question(f"/data/pessoas/wg_{d}", "select1", choices="wg", repeat="/data/pessoas", lang="pt")
                for d in DOMAINS
            ],
        ],
        {
            "posto": labelled(("1", "Pacaraima"), ("2", "Boa Vista"), lang="pt"),
            "sexo": labelled(("1", "Feminino"), ("2", "Masculino"), ("9", "Prefere não dizer"), lang="pt"),
            "nac": labelled(("1", "Venezuelana"), ("2", "Haitiana"), ("98", "Não sabe"), lang="pt"),
            "sit": labelled(
                ("1", "Refugiado"), ("2", "Solicitante"), ("3", "Residente"), ("4", "Irregular"), lang="pt"
            ),
            "simnao": labelled(("1", "Sim"), ("2", "Não"), ("98", "Não sabe"), lang="pt"),
            "wg": labelled(
                ("1", "Nenhuma"), ("2", "Alguma"), ("3", "Muita"), ("4", "Não consegue"), lang="pt"
            ),
            "traf": labelled(("1", "Documentos retidos"), ("2", "Nenhum"), ("98", "Não sabe"), lang="pt"),
        },
        form_id="pt_abrigo",
    )


PT_MAPPING: dict[str, Any] = {
    "form": {"id": "pt_abrigo", "version": "1", "lang": "pt"},
    "roster_includes_respondent": True,  # "pessoas" lists everyone, the respondent first
    "defaults": {"country_iso3": "BRA", "instrument": "fms"},
    "fields": {
        "/data/fim": {"to": "submission.collected_at", "transform": "date"},
        "/data/posto": "location.site_code",
        "/data/sexo": "respondent.sex_gender",
        "/data/nac": "respondent.nationality_iso3",
        "/data/situacao": {"to": ["respondent.legal_status", "respondent.has_regular_status"]},
        "/data/trafico": "protection.trafficking_indicators",
        "/data/pessoas/idade": "members[].age_years",
        "/data/pessoas/sexo_p": "members[].sex_gender",
        "/data/pessoas/gravida": "members[].pregnant_lactating",
        **{f"/data/pessoas/wg_{d}": f"members[].wg_{d}" for d in DOMAINS},
    },
    "choices": {
        "posto": {"1": "BR-PAC-01", "2": "BR-BVB-02"},
        "sexo": {"1": "f", "2": "m", "9": "u"},
        "nac": {"1": "VEN", "2": "HTI"},
        "sit": {
            "1": {"to": "REF", "fields": {"respondent.has_regular_status": "y"}},
            "2": {"to": "ASY", "fields": {"respondent.has_regular_status": "y"}},
            "3": {"to": "regular_migrant", "fields": {"respondent.has_regular_status": "y"}},
            "4": {"to": "irregular_migrant", "fields": {"respondent.has_regular_status": "n"}},
        },
        "simnao": {"1": "y", "2": "n"},
        "wg": {"1": "none", "2": "some", "3": "a_lot", "4": "cannot"},
        "traf": {"1": "documents_withheld", "2": "none"},
    },
}
PT_NAT = {"1": "VEN", "2": "HTI", "98": None}
PT_SEX = {"1": "f", "2": "m", "9": "u"}
ES_WG = {"ninguna": False, "alguna": False, "mucha": True, "no_puede": True}
PT_WG = {"1": False, "2": False, "3": True, "4": True}


# ---------------------------------------------------------------- generated submissions
def es_submission(rng: random.Random) -> dict[str, Any]:
    others = rng.randint(0, 3)
    people = [rng.randint(0, 70) for _ in range(others)]
    wg_all = list(ES_WG)
    answer: dict[str, Any] = {
        "end": f"2026-11-{rng.randint(1, 28):02d}T10:00:00",
        "sexo": rng.choice(["f", "m", "ns"]),
        "edad": rng.randint(18, 75),
        "nacionalidad": rng.choice(list(DEMONYMS)),
        "embarazada": rng.choice(["si", "no", "ns", ""]),
        "trata": rng.choice(["docs", "deuda ninguno", "ninguno", "ns", "docs deuda"]),
        "otros": [
            {
                "m_sexo": rng.choice(["f", "m"]),
                "m_edad": age,
                **({f"m_wg_{d}": rng.choice(wg_all) for d in DOMAINS} if age >= 5 else {}),
            }
            for age in people
        ],
    }
    if rng.random() < 0.8:
        answer |= {f"wg_{d}": rng.choice(wg_all) for d in DOMAINS}
    for name in ES_COUNTS:
        answer[name] = rng.randint(0, 3)
    return answer


def pt_submission(rng: random.Random) -> dict[str, Any]:
    size = rng.randint(1, 4)
    ages = [rng.randint(18, 70)] + [rng.randint(0, 70) for _ in range(size - 1)]
    return {
        "fim": f"2026-11-{rng.randint(1, 28):02d}T09:00:00",
        "posto": rng.choice(["1", "2"]),
        "sexo": rng.choice(["1", "2", "9"]),
        "nac": rng.choice(list(PT_NAT)),
        "situacao": rng.choice(["1", "2", "3", "4"]),
        "trafico": rng.choice(["1", "2", "98", "1 2"]),
        "pessoas": [
            {
                "idade": age,
                "sexo_p": rng.choice(["1", "2"]),
                "gravida": rng.choice(["1", "2", "98"]),
                **({f"wg_{d}": rng.choice(list(PT_WG)) for d in DOMAINS} if age >= 5 else {}),
            }
            for age in ages
        ],
    }


def normalised(
    catalog: Catalog, es: list[dict[str, Any]], pt: list[dict[str, Any]]
) -> list[NormalisedResult]:
    out = []
    for i, values in enumerate(es):
        meta = {"submission_id": f"es-{i}", "org_code": "ORG-ES"}
        out.append(normalise(values, es_form(), ES_MAPPING, catalog, submission_meta=meta))
    for i, values in enumerate(pt):
        meta = {"submission_id": f"pt-{i}", "org_code": "ORG-PT"}
        out.append(normalise(values, pt_form(), PT_MAPPING, catalog, submission_meta=meta))
    return out


# ---------------------------------------------------------------- the hand computation
def es_people(values: dict[str, Any]) -> list[dict[str, Any]]:
    """Respondent plus the others, as (age, disability or None if not all six answered, pregnant)."""
    resp_wg = [values.get(f"wg_{d}") for d in DOMAINS]
    people = [{"age": values["edad"], "wg": resp_wg, "pregnant": values.get("embarazada") == "si"}]
    for other in values["otros"]:
        wg = [other.get(f"m_wg_{d}") for d in DOMAINS]
        people.append({"age": other["m_edad"], "wg": wg, "pregnant": False})
    return people


def pt_people(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "age": p["idade"],
            "wg": [p.get(f"wg_{d}") for d in DOMAINS],
            "pregnant": p["gravida"] == "1",
        }
        for p in values["pessoas"]
    ]


def disabled(wg: list[Any], scale: dict[str, bool]) -> bool:
    return any(a is not None and scale[a] for a in wg)


def expected(es: list[dict[str, Any]], pt: list[dict[str, Any]]) -> dict[tuple[str, str, str], list[float]]:
    """(indicator, nationality or TOTAL, sex or TOTAL) -> [numerator, denominator]."""
    cells: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    rows: list[tuple[str, str, list[dict[str, Any]], dict[str, bool], dict[str, float]]] = []
    for v in es:
        nat = DEMONYMS[v["nacionalidad"]] or "XXX"
        sex = {"f": "f", "m": "m", "ns": "u"}[v["sexo"]]
        counts = {name: v[name] for name in ES_COUNTS}
        children = sum(n for name, n in counts.items() if ES_COUNTS[name][1] in {"0_4", "5_11", "12_17"})
        traf = v["trata"].split()
        f: dict[str, float] = {
            "children": children,
            "size": sum(counts.values()),
            "traf_answered": float(any(t in {"docs", "deuda", "ninguno"} for t in traf)),
            "traf_yes": float(any(t in {"docs", "deuda"} for t in traf)),
        }
        rows.append((nat, sex, es_people(v), ES_WG, f))
    for v in pt:
        nat = PT_NAT[v["nac"]] or "unknown"
        sex = PT_SEX[v["sexo"]]
        people = pt_people(v)
        traf = v["trafico"].split()
        f = {
            "children": sum(p["age"] < 18 for p in people),
            "size": len(people),
            "traf_answered": float(any(t in {"1", "2"} for t in traf)),
            "traf_yes": float("1" in traf),
            "no_regular": float(v["situacao"] == "4"),
        }
        rows.append((nat, sex, people, PT_WG, f))
    for nat, sex, people, scale, f in rows:
        keys = [(n, s) for n in (nat, TOTAL) for s in (sex, TOTAL)]
        vul1 = [(disabled(p["wg"], scale), None not in p["wg"]) for p in people if p["age"] >= 5]
        vulnerable = any(
            p["age"] >= 60 or p["age"] < 5 or p["pregnant"] or (p["age"] >= 5 and disabled(p["wg"], scale))
            for p in people
        )
        for n, s in keys:
            add(cells, ("FLW-03", n, s), f["children"], f["size"])
            add(cells, ("VUL-02", n, s), float(vulnerable), 1)
            if f["traf_answered"]:
                add(cells, ("PROT-03", n, s), f["traf_yes"], 1)
            if f.get("no_regular"):
                # FLW-07 needs both answers, or one "no": the Portuguese form does not ask about an
                # identity document, so only its respondents without regular status are counted.
                add(cells, ("FLW-07", n, s), 1, 1)
        for is_disabled, all_answered in vul1:
            # VUL-01 is per person: the person's own nationality/sex are not asked here, so only the
            # total is compared (persons disaggregate by their own attributes).
            if all_answered:  # the denominator: persons with all six domains answered
                add(cells, ("VUL-01", TOTAL, TOTAL), float(is_disabled), 1)
    return cells


def add(
    cells: dict[tuple[str, str, str], list[float]], key: tuple[str, str, str], num: float, den: float
) -> None:
    cells[key][0] += num
    cells[key][1] += den


def evaluated(catalog: Catalog, results: list[NormalisedResult]) -> dict[tuple[str, str, str], list[float]]:
    found: dict[tuple[str, str, str], list[float]] = {}
    for code in ("FLW-03", "VUL-02", "PROT-03", "FLW-07"):
        for cell in compute(catalog.indicators[code], results, catalog, by=(NAT, SEX)):
            if cell.breakdown is None and cell.denominator:
                found[(code, *cell.key)] = [cell.numerator, cell.denominator]  # type: ignore[index]
    for cell in compute(catalog.indicators["VUL-01"], results, catalog):
        if cell.breakdown is None and cell.denominator:
            found[("VUL-01", TOTAL, TOTAL)] = [cell.numerator, cell.denominator]
    return found


def generated(seed: int, n_es: int, n_pt: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rng = random.Random(seed)
    return [es_submission(rng) for _ in range(n_es)], [pt_submission(rng) for _ in range(n_pt)]


# ---------------------------------------------------------------- tests
def test_both_mappings_validate_without_errors() -> None:
    catalog = load_catalog()
    for form, mapping in ((es_form(), ES_MAPPING), (pt_form(), PT_MAPPING)):
        assert [p for p in validate_mapping(mapping, form, catalog) if p.severity == ERROR] == []


def test_hand_computed_figures_match_cell_by_cell_per_partner_and_across() -> None:
    catalog = load_catalog()
    es, pt = generated(16, 60, 60)
    for part_es, part_pt in ((es, []), ([], pt), (es, pt)):
        want = {k: v for k, v in expected(part_es, part_pt).items() if v[1]}
        got = evaluated(catalog, normalised(catalog, part_es, part_pt))
        assert got == want


def test_free_text_nationality_resolves_and_the_rest_is_queued() -> None:
    catalog = load_catalog()
    es = [es_submission(random.Random(1)) | {"nacionalidad": text} for text in DEMONYMS]
    results = normalised(catalog, es, [])
    assert [r.record[NAT] for r in results] == [[code or "XXX"] for code in DEMONYMS.values()]
    queued = [u.raw_value for r in results for u in r.unmapped if u.field == NAT]
    assert queued == ["marciano"]


def test_one_question_feeds_two_fields_and_a_site_choice_becomes_the_registry_code() -> None:
    catalog = load_catalog()
    pt = [pt_submission(random.Random(2)) | {"situacao": s, "posto": "1"} for s in ("1", "4")]
    records = [r.record for r in normalised(catalog, [], pt)]
    assert [(r["respondent.legal_status"], r["respondent.has_regular_status"]) for r in records] == [
        ("REF", "y"),
        ("irregular_migrant", "n"),
    ]
    assert {r["location.site_code"] for r in records} == {"BR-PAC-01"}


def test_dont_know_is_never_exposure() -> None:
    catalog = load_catalog()
    es = [es_submission(random.Random(3)) | {"trata": "ns"}]
    pt = [pt_submission(random.Random(4)) | {"trafico": "98"}]
    for result in normalised(catalog, es, pt):
        assert result.record["protection.trafficking_indicators"] == ["dk"]
    cells = compute(catalog.indicators["PROT-03"], normalised(catalog, es, pt), catalog)
    total = next(c for c in cells if c.breakdown is None)
    assert (total.numerator, total.n) == (0, 0)  # out of the denominator, not exposure


def test_a_lone_traveller_is_a_group_of_one_and_counts_in_vul02() -> None:
    catalog = load_catalog()
    lone = es_submission(random.Random(5)) | {"otros": [], "edad": 67}
    (result,) = normalised(catalog, [lone], [])
    assert result.record["context.roster_size"] == 1 and result.persons[0]["is_respondent"] is True
    cells = compute(catalog.indicators["VUL-02"], [result], catalog)
    total = next(c for c in cells if c.breakdown is None)
    assert (total.numerator, total.denominator) == (1, 1)


def test_under_fives_never_make_a_group_unknown() -> None:
    catalog = load_catalog()
    values = es_submission(random.Random(6)) | {f"wg_{d}": "ninguna" for d in DOMAINS}
    values["otros"] = [{"m_sexo": "f", "m_edad": 2}]
    (result,) = normalised(catalog, [values], [])
    assert result.record["context.disability_wg_any"] == "no_wg"


ADDITIVE = ("numerator", "denominator", "n", "dk_refused")


def cell_map(cells: list[Any]) -> dict[tuple[Any, ...], Any]:
    return {(c.indicator, c.statistic, c.key, c.breakdown, c.category): c for c in cells}


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), n_es=st.integers(0, 12), n_pt=st.integers(0, 12))
def test_adding_a_partner_changes_nothing_for_the_first_and_counts_add_up(
    seed: int, n_es: int, n_pt: int
) -> None:
    catalog = load_catalog()
    es, pt = generated(seed, n_es, n_pt)
    alone_es = normalised(catalog, es, [])
    alone_pt = normalised(catalog, [], pt)
    both = normalised(catalog, es, pt)
    for indicator in catalog.indicators.values():
        by = ("submission.org_code",)
        first = cell_map(compute(indicator, alone_es, catalog, by=by))
        together = cell_map(compute(indicator, both, catalog, by=by))
        # The first partner's cells are the same with or without the second partner's submissions.
        for key, cell in first.items():
            if key[2] == ("ORG-ES",):
                assert together[key] == cell
        # Additive counts of the whole are the partners' sums.
        a = cell_map(compute(indicator, alone_es, catalog))
        b = cell_map(compute(indicator, alone_pt, catalog))
        whole = cell_map(compute(indicator, both, catalog))
        for key in set(a) | set(b) | set(whole):
            for attr in ADDITIVE:
                parts = sum((getattr(x[key], attr) or 0) for x in (a, b) if key in x)
                assert (getattr(whole[key], attr) or 0) == parts, (key, attr)


def test_recodes_that_cannot_apply_or_make_dont_know_an_answer_are_refused() -> None:
    catalog = load_catalog()
    bad = {
        **PT_MAPPING,
        "choices": {
            **PT_MAPPING["choices"],
            "traf": {"1": "documents_withheld", "2": "none", "98": "other"},  # "Não sabe" -> other
            "simnao": {"1": "y", "2": "n", "7": "y"},  # no choice 7
        },
        "fields": {**PT_MAPPING["fields"], "/data/pessoas/gravida": {"drop": True}},
    }
    problems = {(p.where, p.severity) for p in validate_mapping(bad, pt_form(), catalog)}
    assert ("choices.traf.98", ERROR) in problems
    assert ("choices.simnao", ERROR) in problems  # no mapped question answers from it any more
    assert ("choices.simnao.7", ERROR) in problems
    via = {
        **PT_MAPPING,
        "fields": {**PT_MAPPING["fields"], "/data/posto": {"to": "location.site_code", "via": "x"}},
    }
    assert ("fields./data/posto", ERROR) in {
        (p.where, p.severity) for p in validate_mapping(via, pt_form(), catalog)
    }


def test_need01_ranked_first_divides_by_groups_whose_form_ranks() -> None:
    from app.indicators.facts import StoredRecord, record_facts

    catalog = load_catalog()
    ranked = [
        StoredRecord(
            {"needs.priority_needs": ["food", "water"], "needs.priority_need_first": "food"}, [], False
        )
    ] * 6
    unranked = [StoredRecord({"needs.priority_needs": ["food"]}, [], False)] * 4  # a multi-select form
    cells = compute(catalog.indicators["NEED-01"], ranked + unranked, catalog)
    by_cat = {(c.breakdown, c.category): c for c in cells}
    assert (by_cat[(None, None)].numerator, by_cat[(None, None)].denominator) == (10, 10)
    assert by_cat[("needs.priority_needs", "food")].numerator == 10
    first = by_cat[("needs.priority_need_first", "food")]
    assert (first.numerator, first.denominator, first.n) == (6, 6, 6)
    # The facts carry that base, so the SQL sums give the same cells.
    rows = [
        r for item in ranked + unranked for r in record_facts(item, catalog) if r["indicator"] == "NEED-01"
    ]
    own = [r for r in rows if r["breakdown"] == "needs.priority_need_first" and r["category"] == ""]
    assert sum(r["den"] for r in own) == 6
