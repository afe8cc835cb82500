"""Forms and the map in a real headless Chromium (Debian's, through Playwright), in Spanish and English:
a version diff, a blocked publish then one overridden with a reason (audited), and the map of 1,000
submissions drawing clusters with no request leaving the server."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Page, expect, sync_playwright

from app.auth.actor import Actor
from app.blobs import get_blob_store
from app.db import get_database
from app.models import Form, Submission, SubmissionVersion, User
from app.services import projects
from app.services.publishing import versions as form_service
from tests.app.admin_helpers import MULTILINGUAL_FORM, publish
from tests.app.conftest import World
from tests.app.form_admin_helpers import MULTILINGUAL_V2, audit_rows
from tests.app.test_admin_browser import CHROMIUM, CHROMIUM_ARGS
from tests.data import data_bytes

pytestmark = pytest.mark.slow

TEXT = {
    "es": {"added": "Campos añadidos", "changed": "Campos modificados", "held": "No publicado",
           "anyway": "Publicar de todos modos", "on_map": "envíos en el mapa"},
    "en": {"added": "Fields added", "changed": "Fields changed", "held": "Not published",
           "anyway": "Publish anyway", "on_map": "submissions on the map"},
}  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(params=["es", "en"])
def lang(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def page(browser: Browser, lang: str) -> Iterator[Page]:
    context = browser.new_context(
        locale="es-EC" if lang == "es" else "en-GB", viewport={"width": 1280, "height": 800}
    )
    pg = context.new_page()
    pg.on("dialog", lambda dialog: dialog.accept())
    yield pg
    context.close()


def log_in(page: Page, live: str, world: World, who: str) -> None:
    page.goto(f"{live}/admin/login")
    page.locator("#email").fill(world.emails[who])
    page.locator("#password").fill(world.passwords[who])
    page.locator("#password").press("Enter")
    page.wait_for_url(f"{live}/admin/")


def _draft(world: World, xml: bytes) -> None:
    with world.app.app_context(), get_database(world.app).session_scope() as session:
        admin = session.get(User, world.user_ids["admin"])
        project = projects.get_project(session, world.project_id)
        existing = session.scalar(sa.select(Form).where(Form.project_id == project.id))
        common = {
            "actor": Actor(user=admin),
            "project": project,
            "data": xml,
            "store": get_blob_store(world.app),
        }
        if existing is None:
            form_service.create_form(session, **common, ignore_warnings=True, run_validate=False)  # type: ignore[arg-type]
        else:
            form_service.create_draft(
                session, form=existing, **common, ignore_warnings=True, run_validate=False
            )  # type: ignore[arg-type]
        session.commit()


def test_version_diff(world: World, live: str, page: Page, lang: str) -> None:
    publish(world, MULTILINGUAL_FORM)
    _draft(world, MULTILINGUAL_V2)
    log_in(page, live, world, "manager")
    page.goto(f"{live}/admin/projects/{world.project_id}/forms/monitoreo")
    page.locator("#draft-diff-link").click()
    expect(page.locator("#diff-added h2")).to_contain_text(TEXT[lang]["added"])
    expect(page.locator("#diff-added")).to_contain_text("/data/phone")
    expect(page.locator("#diff-removed")).to_contain_text("/data/secret")
    expect(page.locator("#diff-changed h2")).to_contain_text(TEXT[lang]["changed"])
    expect(page.locator("#diff-changed")).to_contain_text("HTI")
    label = "Edad en años" if lang == "es" else "/data/member/age"
    expect(page.locator("#diff-changed")).to_contain_text(label)


def test_blocked_publish_then_override_with_a_reason(world: World, live: str, page: Page, lang: str) -> None:
    _draft(world, data_bytes("forms/with_attachments.xml"))
    log_in(page, live, world, "manager")
    page.goto(f"{live}/admin/projects/{world.project_id}/forms/withAttachments")
    expect(page.locator("#publish-problems")).to_contain_text("goodtwo.mp3")
    page.locator("#publish-button").click()  # no reason given
    expect(page.locator(".flash.error")).to_contain_text(TEXT[lang]["held"])
    assert audit_rows(world, "form.publish") == []
    page.locator("#override-reason").fill(f"pilot {lang}: audio comes next week")
    expect(page.locator("#publish-button")).to_have_text(TEXT[lang]["anyway"])
    page.locator("#publish-button").click()
    expect(page.locator("#versions-table tbody tr")).to_have_count(1)
    expect(page.locator("#draft")).to_have_count(0)
    [override] = audit_rows(world, "form.publish_override")
    assert override["details"]["reason"] == f"pilot {lang}: audio comes next week"
    assert override["actor"] == world.user_ids["manager"]


def _thousand_points(world: World) -> None:
    """1,000 submissions with a location spread over Colombia and Ecuador, inserted in bulk."""
    publish(world, MULTILINGUAL_FORM)
    rng = random.Random(5)
    now = datetime.now(UTC)
    with world.app.app_context(), get_database(world.app).session_scope() as session:
        form = session.scalar(sa.select(Form).where(Form.xml_form_id == "monitoreo"))
        assert form is not None and form.current_version_id is not None
        for i in range(1000):
            iid = f"uuid:{uuid.UUID(int=rng.getrandbits(128))}"
            sub = Submission(
                form_id=form.id,
                instance_id=iid,
                instance_name=f"Punto {i}",
                created_at=now - timedelta(minutes=i),
                organisation_id=world.org_id,  # collected for the project's own organisation
            )
            session.add(sub)
            session.flush()
            values = {"location": {"lat": rng.uniform(-4, 8), "lon": rng.uniform(-80, -70)}}
            version = SubmissionVersion(
                submission_id=sub.id, form_id=form.id, form_version_id=form.current_version_id,
                instance_id=iid, xml=b"<data/>", sha256="0" * 64, values=values, received_at=sub.created_at,
            )  # fmt: skip
            session.add(version)
            session.flush()
            sub.current_version_id = version.id
        session.commit()


def test_map_of_a_thousand_points_without_external_requests(
    world: World, live: str, page: Page, lang: str
) -> None:
    _thousand_points(world)
    requested: list[str] = []
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda request: requested.append(request.url))
    log_in(page, live, world, "supervisor")
    page.goto(f"{live}/admin/projects/{world.project_id}/forms/monitoreo/submissions")
    page.locator("#map-link").click()
    expect(page.locator("#submissions-map")).to_have_attribute("data-loaded", "1000", timeout=20000)
    expect(page.locator("#map-summary")).to_contain_text(TEXT[lang]["on_map"])
    expect(page.locator(".marker-cluster").first).to_be_visible()
    # The outlines (drawn on a canvas) came from Ruta itself; cluster counts add up to the points.
    expect(page.locator(".leaflet-overlay-pane canvas").first).to_be_attached()
    assert f"{live}/admin/map/outlines.geojson" in requested
    # While a zoom animation runs, old and new clusters are both in the page: poll until it settles.
    shown = 0
    for _ in range(40):
        counts = page.locator(".marker-cluster span").all_inner_texts()
        shown = sum(int(c) for c in counts) + page.locator(".map-point").count()
        if shown == 1000:
            break
        page.wait_for_timeout(250)
    assert shown == 1000
    outside = [url for url in requested if not url.startswith(live) and not url.startswith("data:")]
    assert outside == [], outside
    assert errors == []
