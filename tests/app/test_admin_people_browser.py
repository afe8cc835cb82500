"""People, passwords and two-factor login in a real headless Chromium (Debian's, driven by Playwright),
in Spanish and in English; and every admin page at a phone's width (390×844) without sideways scrolling.
Screenshots go to test-output/admin-browser/<test>/ (gitignored)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Browser, Dialog, Page, expect, sync_playwright
from sqlalchemy import select

from app.db import get_database, utcnow
from app.models import Submission
from tests.app.admin_helpers import MULTILINGUAL_FORM, ingest, multilingual_instance, publish
from tests.app.conftest import World

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

# What the pages say, per language: the tests read the page as a person would.
TEXT = {
    "es": {
        "login_heading": "Iniciar sesión en Ruta",
        "email": "Correo electrónico",
        "password": "Contraseña",
        "log_in": "Iniciar sesión",
        "log_out": "Cerrar sesión",
        "projects": "Proyectos",
        "account": "Mi cuenta",
        "current": "Contraseña actual",
        "new": "Contraseña nueva",
        "new_again": "Repita la contraseña nueva",
        "change": "Cambiar contraseña",
        "changed": "Contraseña cambiada",
        "people": "Personas",
        "new_email": "Correo electrónico",
        "name": "Nombre",
        "organisation": "Organización",
        "pw_create": "Contraseña (déjela vacía para dar a la persona un código de un solo uso)",
        "pw_again": "Repita la contraseña",
        "create": "Crear cuenta",
        "person": "Persona",
        "role": "Rol",
        "give": "Dar rol",
        "turn_on": "Activar el inicio de sesión en dos pasos",
        "app_code": "Código de la aplicación",
        "activate": "Activar",
        "codes": "Códigos de recuperación",
        "second_step": "Inicio de sesión en dos pasos",
        "second_code": "Código de su aplicación de autenticación, o un código de recuperación",
        "make_reset": "Generar un código para restablecer la contraseña",
        "have_code": "Tengo un código para restablecer la contraseña",
        "reset_code": "Código de restablecimiento",
        "set": "Poner contraseña",
        "is_set": "Su contraseña nueva está puesta",
        "not_valid": "Este código no es válido",
    },
    "en": {
        "login_heading": "Log in to Ruta",
        "email": "Email address",
        "password": "Password",
        "log_in": "Log in",
        "log_out": "Log out",
        "projects": "Projects",
        "account": "My account",
        "current": "Current password",
        "new": "New password",
        "new_again": "New password again",
        "change": "Change password",
        "changed": "Password changed",
        "people": "People",
        "new_email": "Email address",
        "name": "Name",
        "organisation": "Organisation",
        "pw_create": "Password (leave empty to give the person a one-time code instead)",
        "pw_again": "Password again",
        "create": "Create account",
        "person": "Person",
        "role": "Role",
        "give": "Give role",
        "turn_on": "Turn on two-factor login",
        "app_code": "Code from the app",
        "activate": "Turn on",
        "codes": "Recovery codes",
        "second_step": "Two-factor login",
        "second_code": "Code from your authenticator app, or a recovery code",
        "make_reset": "Make a password reset code",
        "have_code": "I have a password reset code",
        "reset_code": "Reset code",
        "set": "Set password",
        "is_set": "Your new password is set",
        "not_valid": "This code is not valid",
    },
}
LOCALES = {"es": "es-EC", "en": "en-GB"}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def _page(browser: Browser, lang: str, width: int = 1280, height: int = 800) -> Iterator[Page]:
    context = browser.new_context(locale=LOCALES[lang], viewport={"width": width, "height": height})
    pg = context.new_page()
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        if dialog.type == "confirm":
            dialog.accept()
            return
        dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    pg.on("dialog", on_dialog)
    yield pg
    context.close()
    assert not dialogs, f"a script ran: {dialogs}"


@pytest.fixture(params=["es", "en"])
def lang(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def page(browser: Browser, lang: str) -> Iterator[Page]:
    yield from _page(browser, lang)


def shot(page: Page, test: str, what: str) -> None:
    folder = OUTPUT / test
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{what}.png"), full_page=True)


def log_in(page: Page, live: str, t: dict[str, str], email: str, password: str) -> None:
    page.goto(f"{live}/admin/")
    expect(page.get_by_role("heading", name=t["login_heading"])).to_be_visible()
    page.get_by_label(t["email"]).fill(email)
    page.get_by_label(t["password"], exact=True).fill(password)
    page.get_by_role("button", name=t["log_in"]).click()


def log_out(page: Page, t: dict[str, str]) -> None:
    page.get_by_role("button", name=t["log_out"]).click()
    expect(page.get_by_role("heading", name=t["login_heading"])).to_be_visible()


def menu(page: Page, name: str) -> None:
    page.get_by_role("navigation", name=re.compile("Menú principal|Main menu")).get_by_role(
        "link", name=name, exact=True
    ).click()


def test_a_person_changes_their_password_then_logs_in_with_it(
    world: World, live: str, page: Page, lang: str
) -> None:
    t = TEXT[lang]
    log_in(page, live, t, world.emails["analyst"], world.passwords["analyst"])
    expect(page.get_by_role("heading", name=t["projects"])).to_be_visible()
    menu(page, t["account"])
    page.get_by_label(t["current"]).fill(world.passwords["analyst"])
    page.get_by_label(t["new"], exact=True).fill("nueva contraseña 2026")
    page.get_by_label(t["new_again"]).fill("nueva contraseña 2026")
    page.get_by_role("button", name=t["change"]).click()
    expect(page.locator(".flash")).to_contain_text(t["changed"])
    shot(page, f"password-{lang}", "changed")
    log_out(page, t)
    log_in(page, live, t, world.emails["analyst"], world.passwords["analyst"])
    expect(page.locator(".error")).to_be_visible()  # the old one no longer works
    log_in(page, live, t, world.emails["analyst"], "nueva contraseña 2026")
    expect(page.get_by_role("heading", name=t["projects"])).to_be_visible()


def test_a_new_person_given_a_role_sees_only_their_project(
    world: World, live: str, page: Page, lang: str
) -> None:
    t = TEXT[lang]
    log_in(page, live, t, world.emails["admin"], world.passwords["admin"])
    menu(page, t["people"])
    page.get_by_label(t["new_email"], exact=True).fill("rosa@example.org")
    page.get_by_label(t["name"], exact=True).fill("Rosa")
    page.get_by_label(t["organisation"], exact=True).select_option(label="Org A (ORG-A)")
    page.get_by_label(t["pw_create"]).fill("rosa password 1")
    page.get_by_label(t["pw_again"]).fill("rosa password 1")
    page.get_by_role("button", name=t["create"]).click()
    expect(page.get_by_role("heading", name="rosa@example.org")).to_be_visible()
    menu(page, t["projects"])
    page.get_by_role("link", name="Rumichaca").click()
    page.locator("nav.project-menu").get_by_role("link", name=t["people"]).click()
    page.get_by_label(t["person"]).select_option(label="rosa@example.org")
    page.get_by_label(t["role"]).select_option("supervisor")
    page.get_by_role("button", name=t["give"]).click()
    expect(page.locator("#roles-table")).to_contain_text("rosa@example.org")
    shot(page, f"roles-{lang}", "given")
    log_out(page, t)
    log_in(page, live, t, "rosa@example.org", "rosa password 1")
    expect(page.get_by_role("heading", name=t["projects"])).to_be_visible()
    expect(page.get_by_role("link", name="Rumichaca")).to_be_visible()
    expect(page.get_by_text("Tumbes")).to_have_count(0)
    expect(page.locator("nav.main-menu a")).to_have_count(2)  # projects and her account: nothing else
    shot(page, f"roles-{lang}", "her-view")


def test_two_factor_enrolment_and_login(world: World, live: str, page: Page, lang: str) -> None:
    t = TEXT[lang]
    log_in(page, live, t, world.emails["manager"], world.passwords["manager"])
    menu(page, t["account"])
    page.get_by_role("link", name=t["turn_on"]).click()
    expect(page.locator("p.qr img")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text().strip()
    totp = pyotp.TOTP(secret)
    page.get_by_label(t["app_code"]).fill(totp.now())
    page.get_by_role("button", name=t["activate"], exact=True).click()
    expect(page.get_by_role("heading", name=t["codes"])).to_be_visible()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    shot(page, f"totp-{lang}", "codes")
    log_out(page, t)
    log_in(page, live, t, world.emails["manager"], world.passwords["manager"])
    expect(page.get_by_role("heading", name=t["second_step"])).to_be_visible()
    # The enrolment's code is spent; the next time step's is what the phone shows next.
    page.get_by_label(t["second_code"]).fill(totp.at(utcnow() + timedelta(seconds=30)))
    page.get_by_role("button", name=t["log_in"]).click()
    expect(page.get_by_role("heading", name=t["projects"])).to_be_visible()


def test_a_reset_code_works_once(world: World, live: str, page: Page, lang: str) -> None:
    t = TEXT[lang]
    log_in(page, live, t, world.emails["admin"], world.passwords["admin"])
    menu(page, t["people"])
    page.get_by_role("link", name="supervisor@example.org").click()
    page.get_by_role("button", name=t["make_reset"]).click()
    code = page.locator("#reset-code").inner_text().strip()
    assert re.fullmatch(r"[A-Z2-7]{4}(-[A-Z2-7]{4}){3}", code)
    shot(page, f"reset-{lang}", "code")
    log_out(page, t)
    for attempt in range(2):
        page.get_by_role("link", name=t["have_code"]).click()
        page.get_by_label(t["reset_code"]).fill(code)
        page.get_by_label(t["new"], exact=True).fill(f"reset password {attempt}")
        page.get_by_label(t["new_again"]).fill(f"reset password {attempt}")
        page.get_by_role("button", name=t["set"]).click()
        if attempt == 0:
            expect(page.locator(".flash")).to_contain_text(t["is_set"])
        else:
            expect(page.locator(".error")).to_contain_text(t["not_valid"])
            page.goto(f"{live}/admin/login")
    log_in(page, live, t, world.emails["supervisor"], "reset password 0")
    expect(page.get_by_role("heading", name=t["projects"])).to_be_visible()


def _admin_get_pages(world: World) -> list[str]:
    """Every GET page of the admin blueprint, with real values for its path arguments."""
    publish(world, MULTILINGUAL_FORM)
    for i, nationality in enumerate(["VEN", "COL"]):
        ingest(
            world,
            multilingual_instance(
                f"uuid:n{i}", name=f"Familia número {i} con un nombre largo", nationality=nationality
            ),
        )
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        submission_id = s.scalar(select(Submission.id))
    seeds = {
        "project_id": world.project_id,
        "xml_form_id": "monitoreo",
        "submission_id": submission_id,
        "user_id": world.user_ids["manager"],
        "organisation_id": world.org_id,
    }
    pages = []
    for rule in world.app.url_map.iter_rules():
        if not rule.endpoint.startswith("admin.") or "GET" not in (rule.methods or set()):
            continue
        if set(rule.arguments) - set(seeds):  # files (attachments) are not pages
            continue
        path = rule.rule
        for name in rule.arguments:
            path = re.sub(rf"<(?:[a-z]+:)?{name}>", str(seeds[name]), path)
        pages.append(path)
    return sorted(pages)


def _check_width(pg: Page, url: str, too_wide: dict[str, float], folder: str) -> None:
    """Load ``url``; note it in ``too_wide`` when the document, or a menu link, is wider than the screen.
    Downloads (CSV, XLSX, GeoJSON, XForms) are not pages: asked first with the page's cookies, skipped."""
    if "text/html" not in pg.request.get(url).headers.get("content-type", ""):
        return
    pg.goto(url)
    width = pg.evaluate("document.documentElement.scrollWidth")
    viewport = pg.evaluate("window.innerWidth")
    assert viewport == 390
    path = url.split("/", 3)[-1]
    shot(pg, folder, re.sub(r"\W+", "_", path) or "root")
    if width > viewport:
        too_wide[path] = width
    rights = pg.locator("nav.main-menu a, nav.project-menu a").evaluate_all(
        "els => els.map(e => e.getBoundingClientRect().right)"
    )
    if any(right > viewport for right in rights):  # a menu item off screen cannot be reached
        too_wide[f"{path} (menu)"] = max(rights)


@pytest.mark.parametrize("who", ["admin", "supervisor"])
def test_every_admin_page_fits_a_phone(
    world: World, live: str, browser: Browser, lang: str, who: str
) -> None:
    pages = _admin_get_pages(world)
    assert len(pages) >= 20 and {"/admin/people", "/admin/account", "/admin/organisations"} <= set(pages)
    t = TEXT[lang]
    folder = f"narrow-{who}-{lang}"
    too_wide: dict[str, float] = {}
    pg = next(phone := _page(browser, lang, width=390, height=844))
    for path in ("/", "/admin/login", "/admin/reset"):  # before logging in
        _check_width(pg, f"{live}{path}", too_wide, folder)
    log_in(pg, live, t, world.emails[who], world.passwords[who])
    expect(pg.get_by_role("heading", name=t["projects"])).to_be_visible()
    for path in pages:
        _check_width(pg, f"{live}{path}", too_wide, folder)
    next(phone, None)  # closes the browser context (and checks no script dialog appeared)
    assert not too_wide, too_wide
