"""Exports, the audit log and the mapping editor in headless Chromium (Debian's), in Spanish and in
English: an export chosen on the page, told what its filters leave out, downloaded and opened (the CSV
zip read, the XLSX of a background export opened with openpyxl); the audit page filtered; the mapping
editor saving a field choice and then a recoding. Nothing runs as script on these pages."""

from __future__ import annotations

import copy
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.app import indicator_fixtures as fx
from tests.app.admin_helpers import MULTILINGUAL_FORM, ingest, multilingual_instance, publish
from tests.app.conftest import World
from tests.app.job_helpers import run_jobs
from tests.app.test_admin_browser import CHROMIUM, CHROMIUM_ARGS, Shots

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, launched as tests/app/test_admin_browser.py does (never a downloaded one)."""
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Shots:
    return Shots(request.node.name)


TEXT = {
    "es": {
        "locale": "es-EC",
        "projects": "Proyectos",
        "export": "Exportar datos",
        "received": "recibido",
        "count": "Se seleccionan 2 de 3 envíos; quedan fuera 1.",
        "left": "1 en el estado de revisión «recibido», no marcado arriba",
        "count_all": "Se seleccionan 3 de 3 envíos; quedan fuera 0.",
        "download": "Descargar ahora",
        "background": "Preparar en segundo plano",
        "file": "Descargar",
        "audit": "Registro de auditoría",
        "exported": "envíos exportados",
        "saved": "del mapeo confirmada",
    },
    "en": {
        "locale": "en-US",
        "projects": "Projects",
        "export": "Export data",
        "received": "received",
        "count": "2 of 3 submissions are selected; 1 are left out.",
        "left": "1 in review state “received”, not ticked above",
        "count_all": "3 of 3 submissions are selected; 0 are left out.",
        "download": "Download now",
        "background": "Prepare in the background",
        "file": "Download",
        "audit": "Audit log",
        "exported": "submissions exported",
        "saved": "Mapping version",
    },
}
LANGUAGES = pytest.mark.parametrize("lang", ["es", "en"])


def _page(browser: Browser, lang: str) -> Page:
    context = browser.new_context(locale=TEXT[lang]["locale"], viewport={"width": 1280, "height": 900})
    return context.new_page()


def _log_in(page: Page, live: str, world: World, who: str, lang: str) -> None:
    page.goto(f"{live}/admin/")
    page.locator("#email").fill(world.emails[who])
    page.locator("#password").fill(world.passwords[who])
    page.locator("#password").press("Enter")
    expect(page.get_by_role("heading", name=TEXT[lang]["projects"])).to_be_visible()


@LANGUAGES
def test_export_chosen_counted_downloaded_and_opened(
    world: World, live: str, chromium: Browser, shot: Shots, lang: str, tmp_path: Path
) -> None:
    t = TEXT[lang]
    publish(world, MULTILINGUAL_FORM)
    ingest(world, multilingual_instance("uuid:e1", name="uno"), review_state="approved")
    ingest(world, multilingual_instance("uuid:e2", name="dos", nationality="COL"), review_state="approved")
    ingest(world, multilingual_instance("uuid:e3", name="tres"))  # received, not yet reviewed
    page = _page(chromium, lang)
    _log_in(page, live, world, "supervisor", lang)
    page.get_by_role("link", name="Rumichaca").click()
    page.get_by_role("link", name="Monitoreo").click()
    page.get_by_role("link", name=t["export"]).click()
    # Approved only (the default): the received one is said to be left out, not silently dropped.
    expect(page.locator("#export-count")).to_have_text(t["count"])
    expect(page.locator("#export-left-out")).to_contain_text(t["left"])
    shot(page, f"export-{lang}-counted")
    page.get_by_label(t["received"], exact=True).check()
    page.locator("#export-preview").click()
    expect(page.locator("#export-count")).to_have_text(t["count_all"])
    with page.expect_download() as info:
        page.get_by_role("link", name=t["download"]).click()
    download = info.value
    assert download.suggested_filename == "monitoreo.zip"
    path = tmp_path / "export.zip"
    download.save_as(path)
    with zipfile.ZipFile(path) as z:
        main = z.read("monitoreo.csv").decode("utf-8").splitlines()
        assert "monitoreo-member.csv" in z.namelist()
    assert len(main) == 1 + 3 and any("uuid:e3" in line for line in main)

    # A background export of the XLSX: queued, made by the worker, then offered on the page.
    page.locator('input[name="format"][value="xlsx"]').check()
    page.locator("#export-preview").click()
    page.get_by_role("button", name=t["background"]).click()
    expect(page.locator("#export-runs tr[data-status]")).to_have_count(1)
    run_jobs(world.app)
    link = page.locator("#export-runs a.run-file")
    expect(link).to_have_text(t["file"], timeout=15_000)  # the page refreshes itself while it runs
    with page.expect_download() as info:
        link.click()
    book = openpyxl.load_workbook(io.BytesIO(Path(info.value.path()).read_bytes()), read_only=True)
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    assert len(rows) == 1 + 3
    shot(page, f"export-{lang}-done")
    page.context.close()


@LANGUAGES
def test_audit_page_filtered(world: World, live: str, chromium: Browser, shot: Shots, lang: str) -> None:
    t = TEXT[lang]
    publish(world, MULTILINGUAL_FORM)
    ingest(world, multilingual_instance("uuid:a1", name="uno"), review_state="approved")
    supervisor = world.app.test_client()
    from tests.app.admin_helpers import login

    login(world, "supervisor", supervisor)
    url = f"/admin/projects/{world.project_id}/forms/monitoreo/export/download?format=csv"
    assert supervisor.get(url).status_code == 200  # an export to find in the trail
    page = _page(chromium, lang)
    _log_in(page, live, world, "manager", lang)
    page.get_by_role("link", name=t["audit"]).click()
    page.locator("#audit-person").select_option(str(world.user_ids["supervisor"]))
    page.locator("#audit-action").select_option("submission.export")
    page.locator("#audit-project").select_option(str(world.project_id))
    page.locator("#audit-apply").click()
    rows = page.locator("#audit-table tbody tr[data-action]")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(t["exported"])
    expect(rows.first.locator("td").nth(2)).to_have_text("supervisor")  # the person's display name
    shot(page, f"audit-{lang}-filtered")
    with page.expect_download() as info:
        page.locator("#audit-csv").click()
    text = Path(info.value.path()).read_text(encoding="utf-8")
    assert text.count("submission.export") == 1 and world.emails["supervisor"] in text
    page.context.close()


@LANGUAGES
def test_mapping_editor_saves_a_field_choice_and_a_recode(
    world: World, live: str, chromium: Browser, shot: Shots, lang: str
) -> None:
    t = TEXT[lang]
    fx.publish_pt(world)
    start = copy.deepcopy(fx.PT_MAPPING)
    del start["fields"]["/data/ajuda"], start["choices"]["ajuda"]
    api = f"/v1/projects/{world.project_id}/forms/{fx.PT}/mapping"
    assert world.client.put(api, json=start, headers=world.headers("analyst")).status_code == 200
    page = _page(chromium, lang)
    _log_in(page, live, world, "analyst", lang)
    page.goto(f"{live}/admin/projects/{world.project_id}/forms/{fx.PT}/mapping")
    row = page.locator('tr[data-field="assistance.received_assistance_30d"] select')
    row.select_option(label="Recebeu ajuda nos últimos 30 dias? (ajuda)")
    page.locator("#save-mapping-form").click()
    expect(page.locator(".flash")).to_contain_text(t["saved"])
    got = world.client.get(api, headers=world.headers("analyst")).json
    assert got["version"] == 2 and "/data/ajuda" in got["document"]["fields"]
    # The answers of the newly mapped question, by their labels, recoded to codes by label.
    page.locator('tr[data-list="ajuda"][data-value="1"] select').select_option("y")
    page.locator('tr[data-list="ajuda"][data-value="2"] select').select_option("n")
    page.locator('tr[data-list="nac"][data-value="3"] select').select_option("HTI")
    shot(page, f"mapping-{lang}-recodes")
    page.locator("#save-mapping-form").click()
    expect(page.locator(".flash")).to_contain_text(t["saved"])
    doc = world.client.get(api, headers=world.headers("analyst")).json["document"]
    assert doc["choices"]["ajuda"] == {"1": "y", "2": "n"} and doc["choices"]["nac"]["3"] == "HTI"
    expect(page.locator('tr[data-list="nac"][data-value="3"] select')).to_have_value("HTI")
    page.context.close()
