"""Sensitivity classes (issue 21 item 4): forms and fields carry a class, outputs print it, and a share
below the class is refused."""

from __future__ import annotations

import io
import json
import zipfile

from openpyxl import load_workbook

from app.exports.writers import geojson_chunks
from tests.app.conftest import World
from tests.app.test_disclosure_risk import arrivals, url  # noqa: F401 (fixture)


def test_form_and_field_classes_print_in_every_export(arrivals: World) -> None:  # noqa: F811
    w = arrivals
    h = w.headers("manager")
    form_url = url(w, "")[:-1]
    assert w.client.get(form_url, headers=h).json["sensitivity"] == "restricted"  # the default
    assert w.client.patch(form_url, json={"sensitivity": "secret"}, headers=h).status_code == 400
    assert w.client.patch(form_url, json={"fieldClasses": {"age": "top"}}, headers=h).status_code == 400
    res = w.client.patch(form_url, json={"fieldClasses": {"nationality": "confidential"}}, headers=h)
    assert res.status_code == 200 and res.json["fieldClasses"] == {"nationality": "confidential"}
    base = "submissions.{}?reviewState=received"

    z = w.client.get(url(w, base.format("csv.zip")), headers=h)
    assert z.headers["X-Ruta-Classification"] == "CONFIDENTIAL"  # raised by the field
    readme = zipfile.ZipFile(io.BytesIO(z.data)).read("README.txt").decode()
    assert readme.startswith("Sensitivity class: CONFIDENTIAL")

    x = w.client.get(url(w, base.format("xlsx")), headers=h)
    book = load_workbook(io.BytesIO(x.data), read_only=True)
    rows = list(book["metadata"].iter_rows(values_only=True))
    assert rows[0] == ("Sensitivity class", "CONFIDENTIAL")

    assert (
        w.client.get(url(w, base.format("csv")), headers=h).headers["X-Ruta-Classification"] == "CONFIDENTIAL"
    )
    assert (
        w.client.patch(form_url, json={"sensitivity": "strictly_confidential"}, headers=h).status_code == 200
    )
    csv = w.client.get(url(w, base.format("csv")), headers=h)
    assert csv.headers["X-Ruta-Classification"] == "STRICTLY CONFIDENTIAL"


def test_geojson_collection_names_its_class() -> None:
    collection = json.loads(b"".join(geojson_chunks([], {"classification": "CONFIDENTIAL"})))
    assert collection == {"type": "FeatureCollection", "classification": "CONFIDENTIAL", "features": []}


def test_share_below_the_class_is_refused(arrivals: World) -> None:  # noqa: F811
    w = arrivals
    h = w.headers("manager")
    form_url = url(w, "")[:-1]
    assert w.client.patch(form_url, json={"sensitivity": "confidential"}, headers=h).status_code == 200
    for lower in ("public", "restricted"):
        res = w.client.get(url(w, f"submissions.csv?reviewState=received&shareClass={lower}"), headers=h)
        assert res.status_code == 403 and res.json["code"] == "403.60", res.json
        assert "CONFIDENTIAL" in res.json["message"]
    ok = w.client.get(url(w, "submissions.csv?reviewState=received&shareClass=confidential"), headers=h)
    assert ok.status_code == 200
    junk = w.client.get(url(w, "submissions.csv?reviewState=received&shareClass=nope"), headers=h)
    assert junk.status_code == 400


def test_indicator_outputs_carry_their_class(arrivals: World) -> None:  # noqa: F811
    w = arrivals
    h = w.headers("manager")
    project = f"/v1/projects/{w.project_id}/indicators"
    assert w.client.get(project, headers=h).json["class"] == "restricted"
    csv = w.client.get(project + ".csv", headers=h)
    assert csv.status_code == 200 and csv.headers["X-Ruta-Classification"] == "RESTRICTED"
    assert w.client.get(project + ".csv?shareClass=public", headers=h).status_code == 403
    res = w.client.patch(url(w, "")[:-1], json={"indicatorClass": "public"}, headers=h)
    assert res.status_code == 200
    assert w.client.get(project + ".csv?shareClass=public", headers=h).status_code == 200
    xlsx = w.client.get(project + ".xlsx", headers=h)
    book = load_workbook(io.BytesIO(xlsx.data), read_only=True)
    assert next(iter(book["metadata"].iter_rows(values_only=True))) == ("Sensitivity class", "PUBLIC")
    assert json.loads(w.client.get(project, headers=h).data)["class"] == "public"
