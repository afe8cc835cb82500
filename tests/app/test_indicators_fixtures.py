"""Hand-computed indicator values from two different forms mapped onto the same canonical fields.

Approved submissions (water "no" / total answering; assistance "yes"; roster ages):

=========  =========================  ============================  ==============
country    household form (Spanish)   encuesta_pt (numeric codes)   NEED-03
=========  =========================  ============================  ==============
COL        6 no + 2 yes, assist 6/8   3 no + 1 yes, assist 4/4      9 / 12
ECU        5 no + 1 yes, assist 6/6   -                             5 / 6
PER        -                          2 no, assist 0/2              2 / 2
total                                                               16 / 20
=========  =========================  ============================  ==============

Every household has two people, one a child (the household roster lists the other member, a child,
beside the respondent; the Portuguese roster lists both): FLW-03 is 20 / 40. PER is below k = 5 (primary
suppression), so ECU, the smallest other country, is hidden too (secondary): COL and the total are
published and the two hidden cells cannot be recovered by subtraction. Not counted: one household
still "received" (counted with includeReceived), one without consent.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from tests.app import indicator_fixtures as fx
from tests.app.conftest import World


@pytest.fixture
def loaded(world: World) -> World:
    version = fx.publish_household(world)
    fx.publish_pt(world)
    res = world.client.put(
        f"/v1/projects/{world.project_id}/forms/{fx.PT}/mapping",
        json={"document": fx.PT_MAPPING},
        headers=world.headers("analyst"),
    )
    assert res.status_code == 200, res.json
    households = [("COL", "no", "yes")] * 6 + [("COL", "yes", "no")] * 2
    households += [("ECU", "no", "yes")] * 5 + [("ECU", "yes", "yes")]
    for i, (country, water, assistance) in enumerate(households):
        xml = fx.household_xml(
            version, f"hh-{i}", country=country, water=water, assistance=assistance, ages=[10]
        )
        fx.submit(world, fx.HH, xml)
        fx.review(world, fx.HH, f"hh-{i}", "approved")
    fx.submit(
        world,
        fx.HH,
        fx.household_xml(version, "hh-received", country="COL", water="no", assistance="yes", ages=[10]),
    )
    fx.submit(
        world,
        fx.HH,
        fx.household_xml(
            version, "hh-noconsent", country="COL", water="no", assistance="yes", ages=[10], consent="no"
        ),
    )
    fx.review(world, fx.HH, "hh-noconsent", "approved")
    pt = [("pt-col-0", "1", "2", "1", "3")]  # Haitian: nationality unmapped
    pt += [(f"pt-col-{i}", "1", "2", "1", "1") for i in (1, 2)]
    pt += [
        ("pt-col-3", "1", "1", "1", "1"),
        ("pt-per-0", "3", "2", "2", "1"),
        ("pt-per-1", "3", "2", "2", "2"),
    ]
    for uid, pais, agua, ajuda, nac in pt:
        fx.submit(world, fx.PT, fx.pt_xml(uid, pais=pais, agua=agua, ajuda=ajuda, idades=[8, 35], nac=nac))
        fx.review(world, fx.PT, uid, "approved")
    return world


def values(world: World, query: str = "", who: str = "analyst") -> list[dict[str, Any]]:
    res = world.client.get(f"/v1/projects/{world.project_id}/indicators?{query}", headers=world.headers(who))
    assert res.status_code == 200, res.json
    return res.json["values"]  # type: ignore[no-any-return]


def cell(rows: list[dict[str, Any]], code: str, **dims: str) -> dict[str, Any]:
    found = [
        r
        for r in rows
        if r["indicator"] == code
        and r["breakdown"] is None
        and all(r["dimensions"].get(k) == v for k, v in dims.items())
    ]
    assert len(found) == 1, (code, dims, found)
    return found[0]


def test_two_forms_add_up_with_exact_values_and_suppression(loaded: World) -> None:
    rows = values(loaded, "indicator=NEED-03,RESP-01,FLW-03&by=country")
    col, total = cell(rows, "NEED-03", country="COL"), cell(rows, "NEED-03", country="total")
    assert (col["numerator"], col["denominator"], col["n"], col["value"]) == (9, 12, 12, 0.75)
    assert (total["numerator"], total["denominator"], total["n"], total["value"]) == (16, 20, 20, 0.8)
    for country, reason in (("PER", "primary"), ("ECU", "secondary")):
        hidden = cell(rows, "NEED-03", country=country)
        assert hidden["suppressed"] and hidden["suppressionReason"] == reason
        assert hidden["value"] is None and hidden["numerator"] is None and hidden["n"] is None
    assert not col["suppressed"] and not total["suppressed"]
    resp = cell(rows, "RESP-01", country="COL")
    assert (resp["numerator"], resp["denominator"]) == (10, 12)
    assert cell(rows, "RESP-01", country="total")["numerator"] == 16
    children = cell(rows, "FLW-03", country="total")
    assert (children["numerator"], children["denominator"], children["value"]) == (20, 40, 0.5)
    assert cell(rows, "FLW-03", country="COL")["denominator"] == 24
    assert sorted(total["mappingVersions"]) == [f"{fx.PT}@v1", f"{fx.HH}@v1"]


def test_received_submissions_count_only_when_asked(loaded: World) -> None:
    rows = values(loaded, "indicator=NEED-03&by=country&includeReceived=true")
    col = cell(rows, "NEED-03", country="COL")
    assert (col["numerator"], col["denominator"]) == (10, 13)
    assert cell(rows, "NEED-03", country="total")["denominator"] == 21


def test_filters_restrict_to_matching_units(loaded: World) -> None:
    rows = values(loaded, "indicator=NEED-03&country=COL")
    only = cell(rows, "NEED-03")
    assert (only["numerator"], only["denominator"]) == (9, 12)


def _totals(world: World) -> dict[tuple[str, str, str | None, str | None], tuple[Any, Any, Any]]:
    return {
        (r["indicator"], r["unit"], r["breakdown"], r["category"]): (r["numerator"], r["denominator"], r["n"])
        for r in values(world)
    }


def test_rejecting_a_submission_removes_exactly_its_contributions(loaded: World) -> None:
    before = _totals(loaded)
    fx.review(loaded, fx.PT, "pt-col-1", "rejected")  # COL, water no, assistance yes, 2 people, 1 child
    after = _totals(loaded)
    changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
    assert changed[("NEED-03", "pct", None, None)] == ((16, 20, 20), (15, 19, 19))
    assert changed[("RESP-01", "pct", None, None)] == ((16, 20, 20), (15, 19, 19))
    assert changed[("FLW-03", "pct", None, None)] == ((20, 40, 20), (19, 38, 19))
    for (code, _unit, breakdown, _category), (old, new) in changed.items():
        if breakdown is None and None not in old and None not in new:
            assert old[2] - new[2] == 1, code  # one record (or its persons) fewer, nothing else
    fx.review(loaded, fx.PT, "pt-col-1", "approved")
    assert _totals(loaded) == before


def test_an_edit_changes_only_what_the_answer_changed(loaded: World) -> None:
    before = values(loaded, "indicator=NEED-03,RESP-01&by=country")
    res = loaded.client.put(
        f"/v1/projects/{loaded.project_id}/forms/{fx.PT}/submissions/uuid:pt-col-1",
        data=fx.pt_xml(
            "pt-col-1-e", pais="1", agua="1", ajuda="1", idades=[8, 35], deprecated="pt-col-1"
        ).encode(),
        content_type="application/xml",
        headers=loaded.headers("manager"),
    )
    assert res.status_code == 200, res.json
    fx.review(loaded, fx.PT, "pt-col-1", "approved")  # an edit goes back to review
    after = values(loaded, "indicator=NEED-03,RESP-01&by=country")
    assert (
        cell(after, "NEED-03", country="COL")["numerator"]
        == cell(before, "NEED-03", country="COL")["numerator"] - 1
    )
    assert cell(after, "NEED-03", country="COL")["denominator"] == 12
    assert cell(after, "RESP-01", country="COL") == cell(before, "RESP-01", country="COL")


def test_unmapped_answer_is_unknown_queued_and_flagged(loaded: World) -> None:
    rows = values(loaded, "indicator=NEED-03&by=nationality")
    assert cell(rows, "NEED-03", nationality="XXX")["suppressed"]
    res = loaded.client.get(
        f"/v1/projects/{loaded.project_id}/forms/{fx.PT}/submissions?limit=50",
        headers=loaded.headers("manager"),
    )
    assert res.status_code == 200
    from app.db import get_database
    from app.models import Submission, UnmappedValue

    with loaded.app.app_context(), get_database(loaded.app).session_scope() as session:
        queued = session.query(UnmappedValue).all()
        assert [(u.field, u.raw_value) for u in queued] == [("respondent.nationality_iso3", "3")]
        flagged = session.query(Submission).filter(Submission.flag_codes.like("% unmapped_values %")).all()
        assert [s.instance_id for s in flagged] == ["uuid:pt-col-0"]


def test_csv_export_has_the_hxl_row_and_libhxl_reads_it(loaded: World) -> None:
    import hxl

    res = loaded.client.get(
        f"/v1/projects/{loaded.project_id}/indicators.csv?indicator=NEED-03&by=country",
        headers=loaded.headers("analyst"),
    )
    assert res.status_code == 200
    text = res.data.decode()
    reader = list(csv.reader(io.StringIO(text)))
    assert reader[1][:3] == ["#indicator+code", "#indicator+name", "#indicator+type"]
    source = hxl.data(io.BytesIO(res.data))
    rows = [r for r in source if r.get("#country+code") == "COL" and r.get("#indicator+code") == "NEED-03"]
    assert [r.get("#indicator+num+numerator") for r in rows] == ["9"]
    assert hxl.schema().validate(hxl.data(io.BytesIO(res.data)))
    xlsx = loaded.client.get(
        f"/v1/projects/{loaded.project_id}/indicators.xlsx?indicator=NEED-03",
        headers=loaded.headers("analyst"),
    )
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"


def test_too_many_dimensions_or_unknown_names_are_clear_400s(loaded: World) -> None:
    for query in (
        "by=site,nationality,sex_gender,age_band",
        "by=planet",
        "indicator=NOPE-01",
        "planet=x&by=country",
    ):
        res = loaded.client.get(
            f"/v1/projects/{loaded.project_id}/indicators?{query}", headers=loaded.headers("analyst")
        )
        if query.startswith("planet"):
            assert res.status_code == 200  # unknown query parameters are ignored like elsewhere
            continue
        assert res.status_code == 400, (query, res.json)
        assert res.json["message"]


def test_sensitive_indicators_are_never_published_per_site(loaded: World) -> None:
    res = loaded.client.get(
        f"/v1/projects/{loaded.project_id}/indicators?by=site&indicator=PROT-02,NEED-03",
        headers=loaded.headers("analyst"),
    )
    assert res.status_code == 200
    assert "PROT-02" in res.json["skipped"] and "site" in res.json["skipped"]["PROT-02"]
    assert {v["indicator"] for v in res.json["values"]} == {"NEED-03"}


def test_prot02_is_published_only_by_sex(loaded: World) -> None:
    url = f"/v1/projects/{loaded.project_id}/indicators?indicator=PROT-02"
    res = loaded.client.get(url, headers=loaded.headers("analyst"))
    assert res.status_code == 200 and res.json["values"] == []
    assert "sex_gender" in res.json["skipped"]["PROT-02"]
    res = loaded.client.get(url + "&by=sex_gender", headers=loaded.headers("analyst"))
    assert "PROT-02" not in res.json["skipped"]


def test_every_row_states_the_period_it_covers(loaded: World) -> None:
    # All counted submissions are from March 2024: rows without a period breakdown cover that month.
    for row in values(loaded, "indicator=NEED-03,RESP-01&by=country"):
        assert (row["periodStart"], row["periodEnd"]) == ("2024-03-01", "2024-03-31"), row
    res = loaded.client.get(
        f"/v1/projects/{loaded.project_id}/indicators.csv?indicator=NEED-03",
        headers=loaded.headers("analyst"),
    )
    table = list(csv.reader(io.StringIO(res.data.decode())))
    start, end = table[0].index("period_start"), table[0].index("period_end")
    assert {(r[start], r[end]) for r in table[2:]} == {("2024-03-01", "2024-03-31")}
