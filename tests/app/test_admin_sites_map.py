"""The site registry on the admin map (issue 19): the form map's page and vendored Leaflet, the registry's
points as GeoJSON (audited, for everyone who reads the registry), and in Chromium at a phone's width the
sites drawn with no request leaving the server."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.app.admin_helpers import login
from tests.app.conftest import World
from tests.app.form_admin_helpers import audit_rows
from tests.app.test_admin_browser import CHROMIUM, CHROMIUM_ARGS
from tests.app.test_admin_forms_browser import log_in
from tests.app.test_sites_forms import import_registry


def _map(world: World, who: str) -> tuple[str, dict]:  # type: ignore[type-arg]
    client = login(world, who)
    base = f"/admin/projects/{world.project_id}/sites/map"
    page = client.get(base)
    assert page.status_code == 200, page.status_code
    data = client.get(f"{base}.geojson")
    assert data.status_code == 200 and data.mimetype == "application/geo+json"
    return page.text, json.loads(data.data)


def test_registry_points_with_their_details_and_sites_without_coordinates_counted(world: World) -> None:
    import_registry(world)  # COL-ALB and VEN-SAN have coordinates; COL-PAR has none
    page, data = _map(world, "manager")
    assert 'data-kind="sites"' in page and "vendor/leaflet/leaflet.js" in page
    assert "https://" not in page.split("<body", 1)[1]  # nothing on the page comes from elsewhere
    assert 'data-site-url="' in page  # a manager may edit a site from its popup
    points = {f["properties"]["code"]: f for f in data["features"]}
    assert sorted(points) == ["COL-ALB", "VEN-SAN"] and data["withoutLocation"] == 1
    alb = points["COL-ALB"]
    assert alb["geometry"]["coordinates"] == [-72.5, 7.89]
    assert alb["properties"] == {
        "code": "COL-ALB",
        "name": "Albergue Cúcuta",
        "site_type": "shelter",
        "capacity": "120",
        "status": "active",
        "adm1_pcode": "CO54",
        "adm2_pcode": "CO54001",
    }
    assert [r["details"] for r in audit_rows(world, "sites.read")] == [{"view": "map"}]


def test_everyone_who_reads_the_registry_sees_the_map_and_others_do_not(world: World) -> None:
    import_registry(world)
    page, data = _map(world, "enumerator")
    assert len(data["features"]) == 2
    assert "data-site-url" not in page  # an enumerator reads the registry but does not edit it
    outsider = login(world, "outsider")
    for url in ("map", "map.geojson"):
        res = outsider.get(f"/admin/projects/{world.project_id}/sites/{url}")
        assert res.status_code in (403, 404)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="es-EC", viewport={"width": 390, "height": 844})
    pg = context.new_page()
    yield pg
    context.close()


@pytest.mark.slow
def test_registry_map_in_chromium_at_a_phones_width(world: World, live: str, phone: Page) -> None:
    import_registry(world)
    requested: list[str] = []
    errors: list[str] = []
    phone.on("pageerror", lambda e: errors.append(str(e)))
    phone.on("request", lambda request: requested.append(request.url))
    log_in(phone, live, world, "manager")
    phone.goto(f"{live}/admin/projects/{world.project_id}/sites")
    phone.locator("#sites-map-link").click()
    expect(phone.locator("#submissions-map")).to_have_attribute("data-loaded", "2", timeout=20000)
    expect(phone.locator("#map-summary")).to_contain_text("2 sitios en el mapa · 1 sin coordenadas")
    # Far apart (Cúcuta and the Venezuelan bridge are close, but not clustered at the fitted zoom) or
    # clustered: either way the two sites are on the map.
    shown = 0
    for _ in range(40):
        counts = phone.locator(".marker-cluster span").all_inner_texts()
        shown = sum(int(c) for c in counts) + phone.locator(".map-point").count()
        if shown == 2:
            break
        phone.wait_for_timeout(250)
    assert shown == 2
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    outside = [url for url in requested if not url.startswith(live) and not url.startswith("data:")]
    assert (outside, errors) == ([], [])
