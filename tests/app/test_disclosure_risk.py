"""The microdata risk check (issue 21 item 5) against a data set computed by hand.

Twenty records, quasi-identifiers sex, age, nationality, site (a P-code) and arrival date; k = 3. A
record is at risk when fewer than 3 records share all its quasi-identifier values.

Exact values (the classes, by record number of ``RECORDS``):

    {1,2,3} f 30 VEN CO05001 2024-03-02  size 3
    {4}     f 31 VEN CO05001 2024-03-02  size 1  at risk
    {5}     f 45 VEN CO05002 2024-03-10  size 1  at risk
    {6-9}   m 25 VEN CO05001 2024-03-02  size 4
    {10}    m  8 COL CO11001 2024-04-01  size 1  at risk
    {11}    m  9 COL CO11001 2024-04-20  size 1  at risk
    {12}    m 10 COL CO11001 2024-04-15  size 1  at risk
    {13}    f 70 HTI CO11001 2024-04-15  size 1  at risk
    {14-20} m 40 VEN CO05001 2024-03-15  size 7

    9 classes, smallest 1 (k-anonymity 1), 6 records at risk: 6/20 = 30 %.

Generalised (age bands 0-4/5-11/12-17/18-59/60+, month of the date, admin-1 = the P-code's first four
characters):

    {1-5}          f 18-59 VEN CO05 2024-03  size 5
    {6-9, 14-20}   m 18-59 VEN CO05 2024-03  size 11
    {10,11,12}     m 5-11  COL CO11 2024-04  size 3
    {13}           f 60+   HTI CO11 2024-04  size 1  at risk

    4 classes, k-anonymity 1, 1 record at risk: 1/20 = 5 %.

With record 13 in the trash (so not exported): exact 5/19 at risk, generalised 0/19 (k-anonymity 3).
"""

from __future__ import annotations

import io
import zipfile

import pytest

from app.services.protection.disclosure import age_band, measure, month
from tests.app.conftest import World

FORM = b"""<?xml version="1.0"?>
<h:html xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml">
  <h:head><h:title>Arrivals</h:title>
    <model><instance><data id="arrivals" version="1">
      <sex/><age/><nationality/><site/><arrival/><meta><instanceID/></meta>
    </data></instance>
    <bind nodeset="/data/sex" type="string"/>
    <bind nodeset="/data/age" type="int"/>
    <bind nodeset="/data/nationality" type="string"/>
    <bind nodeset="/data/site" type="string"/>
    <bind nodeset="/data/arrival" type="date"/>
    <bind nodeset="/data/meta/instanceID" type="string" readonly="true()"/>
    </model></h:head>
  <h:body><input ref="/data/sex"><label>Sex</label></input><input ref="/data/age"><label>Age</label></input>
    <input ref="/data/nationality"><label>Nationality</label></input>
    <input ref="/data/site"><label>Site</label></input>
    <input ref="/data/arrival"><label>Arrival</label></input></h:body></h:html>"""

RECORDS = [
    ("f", 30, "VEN", "CO05001", "2024-03-02"),
    ("f", 30, "VEN", "CO05001", "2024-03-02"),
    ("f", 30, "VEN", "CO05001", "2024-03-02"),
    ("f", 31, "VEN", "CO05001", "2024-03-02"),
    ("f", 45, "VEN", "CO05002", "2024-03-10"),
    ("m", 25, "VEN", "CO05001", "2024-03-02"),
    ("m", 25, "VEN", "CO05001", "2024-03-02"),
    ("m", 25, "VEN", "CO05001", "2024-03-02"),
    ("m", 25, "VEN", "CO05001", "2024-03-02"),
    ("m", 8, "COL", "CO11001", "2024-04-01"),
    ("m", 9, "COL", "CO11001", "2024-04-20"),
    ("m", 10, "COL", "CO11001", "2024-04-15"),
    ("f", 70, "HTI", "CO11001", "2024-04-15"),
    *[("m", 40, "VEN", "CO05001", "2024-03-15")] * 7,
]
QIS = [
    "sex",
    {"field": "age", "generalise": "age_band"},
    "nationality",
    {"field": "site", "generalise": "admin1"},
    {"field": "arrival", "generalise": "month"},
]


@pytest.fixture
def arrivals(world: World) -> World:
    h = world.headers("manager")
    res = world.client.post(
        f"/v1/projects/{world.project_id}/forms?publish=true&ignoreWarnings=true",
        data=FORM,
        content_type="application/xml",
        headers=world.headers("admin"),
    )
    assert res.status_code == 200, res.json
    for n, (sex, age, nat, site, arrival) in enumerate(RECORDS, start=1):
        xml = (
            f'<data id="arrivals" version="1"><sex>{sex}</sex><age>{age}</age>'
            f"<nationality>{nat}</nationality>"
            f"<site>{site}</site><arrival>{arrival}</arrival><meta><instanceID>uuid:r{n}</instanceID></meta></data>"
        )
        res = world.client.post(
            f"/v1/projects/{world.project_id}/forms/arrivals/submissions",
            data=xml.encode(),
            content_type="application/xml",
            headers=h,
        )
        assert res.status_code == 200, res.json
    res = world.client.patch(
        f"/v1/projects/{world.project_id}/forms/arrivals", json={"quasiIdentifiers": QIS}, headers=h
    )
    assert res.status_code == 200, res.json
    return world


def url(world: World, tail: str) -> str:
    return f"/v1/projects/{world.project_id}/forms/arrivals/{tail}"


def test_measure_by_hand() -> None:
    keys = [("a",), ("a",), ("a",), ("b",), ("c",), ("c",)]
    risk = measure(keys, k=3)
    assert (risk.records, risk.classes, risk.k_anonymity, risk.records_at_risk) == (6, 3, 1, 3)
    assert risk.global_risk == 0.5
    assert measure([], k=3).global_risk == 0.0
    assert [age_band(a) for a in (0, 4, 5, 11, 12, 17, 18, 59, 60, "x")] == [
        "0-4", "0-4", "5-11", "5-11", "12-17", "12-17", "18-59", "18-59", "60+", "x"
    ]  # fmt: skip
    assert month("2024-03-02") == "2024-03" and month("2024-03-02T10:00:00-05:00") == "2024-03"


def test_risk_figures_match_the_hand_computation(arrivals: World) -> None:
    w = arrivals
    res = w.client.get(url(w, "risk?reviewState=received"), headers=w.headers("analyst"))
    assert res.status_code == 200, res.json
    r = res.json
    assert (r["records"], r["k"], r["kAnonymity"], r["equivalenceClasses"], r["recordsAtRisk"]) == (
        20,
        3,
        1,
        9,
        6,
    )
    assert r["globalRisk"] == 0.3 and r["threshold"] == 0.03 and r["passes"] is False
    p = r["proposal"]
    assert (p["records"], p["kAnonymity"], p["equivalenceClasses"], p["recordsAtRisk"]) == (20, 1, 4, 1)
    assert p["globalRisk"] == 0.05 and p["passes"] is False


def test_export_refused_above_the_threshold_with_the_proposal(arrivals: World) -> None:
    w = arrivals
    h = w.headers("manager")
    res = w.client.get(url(w, "submissions.csv.zip?reviewState=received&riskCheck=true"), headers=h)
    assert res.status_code == 422 and res.json["code"] == "422.60"
    assert "6 of 20 records (30.0%)" in res.json["message"] and "5.0%" in res.json["message"]
    assert res.json["details"]["proposal"]["recordsAtRisk"] == 1
    # Shared as public, the check runs without being asked for.
    public = url(w, "submissions.csv?reviewState=received&shareClass=public")
    assert w.client.patch(url(w, "")[:-1], json={"sensitivity": "public"}, headers=h).status_code == 200
    assert w.client.get(public, headers=h).json["code"] == "422.60"
    # A higher threshold the form declares lets it pass, exactly at 30 %.
    assert w.client.patch(url(w, "")[:-1], json={"riskThreshold": 0.3}, headers=h).status_code == 200
    ok = w.client.get(url(w, "submissions.csv.zip?reviewState=received&riskCheck=true"), headers=h)
    assert ok.status_code == 200 and ok.headers["X-Ruta-Disclosure-Risk"] == "0.300000"
    assert len(zipfile.ZipFile(io.BytesIO(ok.data)).read("arrivals.csv").splitlines()) == 21


def test_risk_is_computed_on_the_rows_exported(arrivals: World) -> None:
    w = arrivals
    h = w.headers("manager")
    assert w.client.delete(url(w, "submissions/uuid:r13"), headers=h).status_code == 200
    r = w.client.get(url(w, "risk?reviewState=received"), headers=h).json
    assert (r["records"], r["recordsAtRisk"]) == (19, 5)
    assert (r["proposal"]["recordsAtRisk"], r["proposal"]["kAnonymity"], r["proposal"]["passes"]) == (
        0,
        3,
        True,
    )
    # Only approved rows (the export's default): none yet, so nothing is at risk.
    assert w.client.get(url(w, "risk"), headers=h).json["records"] == 0


def test_risk_check_needs_declared_quasi_identifiers(arrivals: World) -> None:
    w = arrivals
    h = w.headers("manager")
    bad = w.client.patch(url(w, "")[:-1], json={"quasiIdentifiers": ["no_such_question"]}, headers=h)
    assert bad.status_code == 400
    assert w.client.patch(url(w, "")[:-1], json={"quasiIdentifiers": []}, headers=h).status_code == 200
    res = w.client.get(url(w, "risk?reviewState=received"), headers=h)
    assert res.status_code == 400 and res.json["details"]["field"] == "quasiIdentifiers"
