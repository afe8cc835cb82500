"""The admin in a real headless Chromium (Debian's, driven by Playwright; never a downloaded browser):
a supervisor's day (log in, find a flagged submission through the filters, read it in Spanish, approve
it with a comment, move through the queue by keyboard, bulk-reject a filtered set), a manager uploading
and publishing an XLSForm, revoking a device and onboarding its replacement, and the XSS and
malicious-SVG fixtures staying inert. Screenshots go to test-output/admin-browser/<test>/ (gitignored).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, Dialog, Page, expect, sync_playwright
from sqlalchemy import select
from werkzeug.serving import make_server

from app.db import get_database
from app.models import AppUser, Form, Submission
from tests.app.admin_helpers import MULTILINGUAL_FORM, flag, ingest, multilingual_instance, publish
from tests.app.conftest import World
from tests.app.openrosa_helpers import SIMPLE_FORM, device_token, instance
from tests.data import data_file

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "admin-browser"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def live(app: Flask) -> Iterator[str]:
    """Ruta served on a free port by werkzeug in a thread, on this test's database."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


class Shots:
    def __init__(self, name: str) -> None:
        self.folder = OUTPUT / name
        self.folder.mkdir(parents=True, exist_ok=True)
        self.n = 0

    def __call__(self, page: Page, what: str) -> None:
        self.n += 1
        page.screenshot(path=str(self.folder / f"{self.n:02d}-{what}.png"), full_page=True)


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Iterator[Shots]:
    s = Shots(request.node.name)
    yield s
    print(f"\nscreenshots: {s.folder}")


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A Spanish-speaking supervisor's browser; any script dialog (alert) fails the test."""
    context = browser.new_context(locale="es-EC", viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        if dialog.type == "confirm":  # Ruta's own confirmations (revoke) are accepted
            dialog.accept()
            return
        dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    pg.on("dialog", on_dialog)
    yield pg
    context.close()
    assert not dialogs, f"a script ran: {dialogs}"


def log_in(page: Page, live: str, world: World, who: str) -> None:
    page.goto(f"{live}/admin/")
    expect(page.get_by_role("heading", name="Iniciar sesión en Ruta")).to_be_visible()
    page.get_by_label("Correo electrónico").fill(world.emails[who])
    page.get_by_label("Contraseña").fill(world.passwords[who])
    page.get_by_role("button", name="Iniciar sesión").click()
    expect(page.get_by_role("heading", name="Proyectos")).to_be_visible()


def scripts_ready(page: Page) -> None:
    """admin.js has attached its keyboard handlers (it marks <html> with the class "js")."""
    page.wait_for_function("document.documentElement.classList.contains('js')")


def _states(world: World) -> dict[str, str]:
    with world.app.app_context(), get_database(world.app).session_scope() as session:
        return {s.instance_id: s.review_state for s in session.scalars(select(Submission))}


def test_supervisor_reviews_a_flagged_submission_and_bulk_rejects(
    world: World, live: str, page: Page, shots: Shots
) -> None:
    publish(world, MULTILINGUAL_FORM)
    ingest(
        world,
        multilingual_instance("uuid:b1", name="Familia Rojas"),
        **flag("short_interview", "La entrevista duró 2 minutos."),
    )
    ingest(world, multilingual_instance("uuid:b2", name="Grupo Pérez", nationality="COL"))
    ingest(world, multilingual_instance("uuid:b3", name="Caminantes"), device="collect:PHONE9")
    log_in(page, live, world, "supervisor")
    shots(page, "inicio")
    page.get_by_role("link", name="Rumichaca").click()
    page.get_by_role("link", name="Monitoreo").click()
    page.get_by_role("link", name="Revisar envíos").click()
    expect(page.locator("#result-count")).to_have_text("3 envíos")
    # Find the flagged one through the filters.
    page.get_by_label("Alerta de calidad").select_option("short_interview")
    page.get_by_role("button", name="Filtrar").click()
    expect(page.locator("#result-count")).to_have_text("1 envío")
    badge = page.locator(".badge.flag")
    expect(badge).to_have_text("entrevista corta")
    expect(badge).to_have_attribute("title", "La entrevista duró 2 minutos.")
    shots(page, "tabla-filtrada")
    page.get_by_role("link", name="Familia Rojas").click()
    # Labels and choice labels in Spanish, groups and repeats as the form has them.
    answers = page.locator("#answers")
    expect(answers).to_contain_text("Nacionalidad")
    expect(answers).to_contain_text("Venezolana")
    expect(answers.locator(".repeat-index").first).to_have_text("Miembro del grupo #1")
    expect(page.locator("#flags")).to_contain_text("La entrevista duró 2 minutos.")
    shots(page, "envio-en-espanol")
    page.get_by_label("Comentario (opcional) (c)").fill("Confirmado por teléfono con el encuestador")
    page.get_by_role("button", name="Aprobar (a)").click()
    expect(page.locator(".flash")).to_have_text("Revisión guardada.")
    expect(page.locator("#review-state")).to_have_text("aprobado")
    expect(page.locator("#comments")).to_contain_text("Confirmado por teléfono con el encuestador")
    shots(page, "aprobado-con-comentario")
    assert _states(world)["uuid:b1"] == "approved"

    # The queue by keyboard: awaiting review, newest first; "i" marks has-issues and opens the next.
    table = f"{live}/admin/projects/{world.project_id}/forms/monitoreo/submissions?state=awaiting"
    page.goto(table)
    scripts_ready(page)
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Caminantes")
    scripts_ready(page)
    page.keyboard.press("i")
    expect(page.locator("h1")).to_have_text("Grupo Pérez")
    assert _states(world)["uuid:b3"] == "hasIssues"

    # Bulk: reject everything the filter matches (awaiting review: only b2 now).
    page.goto(table)
    page.locator("#scope-filter").check()
    page.locator("#bulk-comment").fill("Fuera del periodo de la ronda")
    page.locator("#bulk-form button.review-rejected").click()
    expect(page.locator(".flash")).to_have_text("1 envío revisado.")
    shots(page, "rechazo-en-lote")
    assert _states(world) == {"uuid:b1": "approved", "uuid:b2": "rejected", "uuid:b3": "hasIssues"}


def test_manager_uploads_and_publishes_an_xlsform(
    world: World, live: str, page: Page, shots: Shots, tmp_path: Path
) -> None:
    from forms.library import read_bundled

    xlsx = tmp_path / "ruta_border_fms.xlsx"
    xlsx.write_bytes(read_bundled("ruta_border_fms"))
    log_in(page, live, world, "manager")
    page.get_by_role("link", name="Rumichaca").click()
    page.get_by_label("Archivo del formulario").set_input_files(str(xlsx))
    page.get_by_role("button", name="Subir", exact=True).click()
    expect(page.locator(".flash")).to_contain_text("Subido como borrador")
    expect(page.locator("#draft")).to_contain_text("Advertencias de pyxform")
    expect(page.locator("#draft")).to_contain_text("ODK Validate")
    shots(page, "borrador-con-verificaciones")
    page.get_by_role("button", name="Publicar").click()
    expect(page.locator(".flash")).to_contain_text("publicada")
    expect(page.locator("#versions tbody tr")).to_have_count(1)
    shots(page, "publicado")
    with world.app.app_context(), get_database(world.app).session_scope() as session:
        form = session.scalar(select(Form).where(Form.xml_form_id == "ruta_border_fms"))
        assert form is not None and form.current_version_id is not None


def test_supervisor_revokes_a_device_and_onboards_a_replacement(
    world: World, live: str, page: Page, shots: Shots
) -> None:
    issued = device_token(world, displayName="Teléfono perdido")
    log_in(page, live, world, "supervisor")
    page.get_by_role("link", name="Rumichaca").click()
    page.get_by_role("link", name="Dispositivos y encuestadores").click()
    row = page.locator(f"tr[data-device='{issued['id']}']")
    expect(row).to_contain_text("activo")
    shots(page, "dispositivos")
    row.get_by_role("button", name="Revocar").click()  # the confirm() is accepted by the fixture
    expect(page.locator(".flash")).to_contain_text("revocado")
    expect(row).to_contain_text("revocado")
    page.get_by_label("Nuevo dispositivo (para un teléfono nuevo o de reemplazo)").fill("Teléfono nuevo")
    page.get_by_role("button", name="Agregar y mostrar el código QR").click()
    expect(page.locator("img.qr")).to_be_visible()
    shots(page, "codigo-qr")
    with world.app.app_context(), get_database(world.app).session_scope() as session:
        old = session.get(AppUser, issued["id"])
        assert old is not None and old.revoked_at is not None
        assert session.scalar(select(AppUser.id).where(AppUser.display_name == "Teléfono nuevo")) is not None


def test_xss_and_malicious_svg_stay_inert(world: World, live: str, page: Page, shots: Shots) -> None:
    publish(world, data_file("forms/xss.xml").read_bytes())
    payload = "<img src=x onerror=alert(window.origin)>"
    xss = ingest(
        world,
        (
            '<data id="test_form_id222"><fname><![CDATA[' + payload + "]]></fname><meta><instanceID>uuid:x1"
            "</instanceID><instanceName>&lt;script&gt;alert(1)&lt;/script&gt;</instanceName></meta></data>"
        ).encode(),
    )
    publish(world, SIMPLE_FORM)
    svg = data_file("media/malicious.svg").read_bytes()
    evil = ingest(world, instance("uuid:x2", photo="evil.svg"), files={"evil.svg": svg})
    publish(world, data_file("forms/svg_media.xml").read_bytes())
    log_in(page, live, world, "admin")
    pid = world.project_id
    visited: dict[str, Any] = {
        "xss-tabla": f"/admin/projects/{pid}/forms/test_form_id222/submissions",
        "xss-envio": f"/admin/submissions/{xss}",
        "svg-envio": f"/admin/submissions/{evil}",
        "svg-formulario": f"/admin/projects/{pid}/forms/aSzEP83LafQr8YE4AgdA5F",
    }
    for name, path in visited.items():
        page.goto(live + path)
        page.wait_for_load_state("load")
        shots(page, name)
    # Opened directly, the SVG is its own document: the sandboxing CSP keeps its scripts from running.
    response = page.goto(f"{live}/admin/submissions/{evil}/files/evil.svg")
    assert (
        response is not None and response.headers["content-security-policy"] == "default-src 'none'; sandbox"
    )
    page.wait_for_timeout(500)
    page.goto(f"{live}/admin/submissions/{xss}")
    # The payload is shown as text, not turned into an element.
    expect(page.locator("#answers")).to_contain_text(payload)
    assert page.locator("#answers img").count() == 0
    page.goto(f"{live}/admin/submissions/{evil}")
    img = page.locator("img.media")
    expect(img).to_be_visible()
    # The <img> loaded the SVG (it rendered) and still no dialog opened (checked by the fixture).
    assert page.evaluate("el => el.complete && el.naturalWidth > 0", img.element_handle())


def test_a_flag_computed_at_ingest_shows_why_it_fired(
    world: World, live: str, browser: Browser, shots: Shots
) -> None:
    from tests.app.test_quality import QUALITY_FORM, household

    publish(world, QUALITY_FORM)
    res = world.client.put(
        f"/v1/projects/{world.project_id}/forms/household/quality",
        json={"minInterviewMinutes": 5},
        headers=world.headers("manager"),
    )
    assert res.status_code == 200, res.json
    ingest(world, household("uuid:quick", minutes=2))
    ingest(world, household("uuid:careful", minutes=30, doc="B-2"))
    # English, so the assertion holds whatever the Spanish catalogue says.
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(f"{live}/admin/")
    page.get_by_label("Email address").fill(world.emails["supervisor"])
    page.get_by_label("Password").fill(world.passwords["supervisor"])
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Projects")).to_be_visible()
    page.goto(f"{live}/admin/projects/{world.project_id}/forms/household/submissions?flag=short_interview")
    expect(page.locator("#result-count")).to_have_text("1 submission")
    reason = "Interview took 2 min; the form's minimum is 5 min."
    badge = page.locator(".badge.flag")
    expect(badge).to_have_text("short interview")
    expect(badge).to_have_attribute("title", reason)
    shots(page, "flag-tooltip")
    page.locator("a.open-link").first.click()
    expect(page.locator("#flags")).to_contain_text(reason)
    shots(page, "flag-reason")
    page.goto(f"{live}/admin/projects/{world.project_id}/forms/household")
    expect(page.locator("#quality")).to_contain_text("Interviews shorter than 5 min are flagged.")
    shots(page, "form-quality-checks")
    context.close()
