"""Exports in the admin on the admin's own login session: the page's counts of what the filters select
and leave out (checked against the seeded rows by hand), a direct download of every format with the
API's options, a background export with progress and its file, the indicator dashboard's downloads
(which answered 401 when they pointed at /v1), and the audit log page with its CSV."""

from __future__ import annotations

import csv
import io
import re
import zipfile

import openpyxl
from flask.testing import FlaskClient

from app.db import get_database
from app.models import AuditEvent
from tests.app.admin_helpers import (
    MULTILINGUAL_FORM,
    ingest,
    login,
    multilingual_instance,
    post,
    publish,
    when,
)
from tests.app.conftest import World
from tests.app.job_helpers import run_jobs

PAGE = "/admin/projects/{pid}/forms/monitoreo/export"


def _seed(world: World) -> None:
    """Five submissions: 2 approved (Nov 3 and Nov 20), 2 received, 1 rejected."""
    publish(world, MULTILINGUAL_FORM)
    rows = [
        ("uuid:a1", "approved", "2026-11-03T10:00:00+00:00"),
        ("uuid:a2", "approved", "2026-11-20T10:00:00+00:00"),
        ("uuid:r1", "received", "2026-11-04T10:00:00+00:00"),
        ("uuid:r2", "received", "2026-11-21T10:00:00+00:00"),
        ("uuid:x1", "rejected", "2026-11-05T10:00:00+00:00"),
    ]
    for iid, state, at in rows:
        ingest(
            world,
            multilingual_instance(iid, name=iid, nationality="COL" if iid == "uuid:a2" else "VEN"),
            review_state=state,
            created_at=when(at),
        )


def _count(text: str) -> tuple[int, int, int]:
    found = re.search(r'data-selected="(\d+)" data-total="(\d+)" data-left-out="(\d+)"', text)
    assert found, text[:2000]
    return int(found.group(1)), int(found.group(2)), int(found.group(3))


def test_page_counts_what_the_filters_select_and_leave_out(world: World) -> None:
    _seed(world)
    client = login(world, "analyst")
    url = PAGE.format(pid=world.project_id)
    page = client.get(url)
    assert page.status_code == 200
    # Default: approved only -> 2 of 5; 2 received and 1 rejected left out, each said.
    assert _count(page.text) == (2, 5, 3)
    assert 'data-state="received">2 ' in page.text and 'data-state="rejected">1 ' in page.text
    # "Download now" exports what the form shows: group paths ticked by default, approved only.
    href = re.search(r'id="export-download" href="([^"]+)"', page.text)
    assert href
    res = client.get(href.group(1).replace("&amp;", "&"))
    with zipfile.ZipFile(io.BytesIO(res.data)) as z:
        header = z.read("monitoreo.csv").decode("utf-8").splitlines()[0]
        assert len(z.read("monitoreo.csv").decode("utf-8").strip().splitlines()) == 1 + 2
    assert "travel-nationality" in header
    # Approved + received, from Nov 10: a2 and r2 -> 2; a1 and r1 outside the dates, x1 by state.
    page = client.get(
        url,
        query_string=[
            ("format", "csv"),
            ("reviewState", "approved"),
            ("reviewState", "received"),
            ("start", "2026-11-10"),
        ],
    )
    assert _count(page.text) == (2, 5, 3)
    assert 'data-reason="dates">2 ' in page.text
    # Nothing approved before Nov 2: an empty export is said, not silently made.
    page = client.get(url, query_string={"format": "csv", "reviewState": "approved", "end": "2026-11-01"})
    assert _count(page.text) == (0, 5, 5)
    assert 'id="export-empty"' in page.text
    # A bad option is said on the page (400), with the API's message.
    page = client.get(url, query_string={"format": "csv", "start": "soon"})
    assert page.status_code == 400 and "start must be a date" in page.text


def test_analyst_cannot_choose_sensitive_include(world: World) -> None:
    _seed(world)
    analyst = login(world, "analyst").get(PAGE.format(pid=world.project_id)).text
    manager = login(world, "manager").get(PAGE.format(pid=world.project_id)).text
    assert 'value="include"' not in analyst and 'value="pseudonym"' in analyst
    assert 'value="include"' in manager


def test_direct_downloads_of_every_format_on_the_admin_session(world: World) -> None:
    _seed(world)
    client = login(world, "supervisor")
    url = PAGE.format(pid=world.project_id) + "/download"
    both = [("reviewState", "approved"), ("reviewState", "received")]
    res = client.get(url, query_string=[("format", "csv.zip"), *both])
    assert res.status_code == 200 and res.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(res.data)) as z:
        names = z.namelist()
        main = list(csv.reader(io.StringIO(z.read("monitoreo.csv").decode("utf-8"))))
    assert "monitoreo-member.csv" in names
    assert len(main) - 1 == 4  # 2 approved + 2 received
    res = client.get(url, query_string=[("format", "xlsx"), ("labels", "true"), ("language", "en"), *both])
    assert res.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(res.data), read_only=True)
    sheet = book.worksheets[0]
    values = [c for row in sheet.iter_rows(values_only=True) for c in row]
    assert "Colombian" in values and "COL" not in values  # labels in the chosen language
    res = client.get(url, query_string={"format": "csv", "reviewState": "approved"})
    assert res.status_code == 200 and len(res.text.strip().splitlines()) == 3
    res = client.get(url, query_string={"format": "geojson", "reviewState": "approved"})
    assert res.status_code == 200 and len(res.get_json()["features"]) == 2
    # The analyst may not include sensitive fields: the API's refusal, as a page.
    analyst = login(world, "analyst")
    res = analyst.get(url, query_string={"format": "csv", "sensitive": "include"})
    assert res.status_code == 403 and "sensitive" in res.text
    # Anonymous: the login page, not a file.
    res = world.app.test_client().get(url, query_string={"format": "csv"})
    assert res.status_code == 302 and "/admin/login" in res.headers["Location"]
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        exports = s.query(AuditEvent).filter_by(action="submission.export").count()
    assert exports == 4


def test_background_export_with_progress_and_file(world: World) -> None:
    _seed(world)
    client = login(world, "supervisor")
    url = PAGE.format(pid=world.project_id)
    res = post(client, url, {"format": "xlsx", "reviewState": "approved"}, page=url)
    assert res.status_code == 303
    page = client.get(res.headers["Location"])
    assert 'data-status="queued"' in page.text and 'http-equiv="refresh"' in page.text
    run_jobs(world.app)
    page = client.get(url)
    assert 'data-status="done"' in page.text and 'http-equiv="refresh"' not in page.text
    link = re.search(r'class="run-file" href="([^"]+)"', page.text)
    assert link
    res = client.get(link.group(1))
    assert res.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(res.data), read_only=True)
    assert book.worksheets[0].max_row == 3  # header + 2 approved
    # Someone else's run is not theirs to download.
    other = login(world, "manager").get(link.group(1))
    assert other.status_code == 403
    # A job cannot be started without the page's CSRF token.
    assert client.post(url, data={"format": "csv"}).status_code == 400


def test_indicator_downloads_work_with_the_admin_session(world: World) -> None:
    client: FlaskClient = login(world, "analyst")
    page = client.get(f"/admin/projects/{world.project_id}/indicators")
    links = re.findall(r'href="([^"]*indicators\.(?:csv|xlsx)[^"]*)"', page.text)
    assert len(links) == 2 and all(link.startswith("/admin/") for link in links)
    client.post("/admin/locale", data={"locale": "es", "csrf_token": _csrf(client)})
    res = client.get(links[0].replace("&amp;", "&"))
    assert res.status_code == 200 and res.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(res.text)))
    assert rows[1][0] == "#indicator+code"
    res = client.get(links[1].replace("&amp;", "&"))
    assert res.status_code == 200
    openpyxl.load_workbook(io.BytesIO(res.data), read_only=True)
    assert world.app.test_client().get(links[0]).status_code == 302  # anonymous: log in first


def _csrf(client: FlaskClient) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/admin/").text)
    assert found
    return found.group(1)


def test_indicator_names_in_the_chosen_language() -> None:
    from app.exports.indicators import value_row
    from app.indicators.values import IndicatorValue

    v = IndicatorValue(
        indicator="FLW-01",
        name="People observed moving through a monitoring point",
        statistic="count",
        breakdown=None,
        category=None,
        key={},
        value=3.0,
        numerator=None,
        denominator=None,
        n=3,
        dk_refused=None,
        suppressed=False,
        reason=None,
        small_base=False,
        sensitive=False,
        mapping_versions=(),
        period_start="",
        period_end="",
    )
    assert value_row(v, "es")[1] == "Personas observadas en movimiento por un punto de monitoreo"
    assert value_row(v, "pt")[1] == "Pessoas observadas em movimento por um ponto de monitoramento"
    assert value_row(v)[1] == "People observed moving through a monitoring point"
