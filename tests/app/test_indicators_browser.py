"""The indicators dashboard in headless Chromium: an analyst opens it from the project menu and sees
a panel with a chart per indicator, hidden (suppressed) months marked, and the gaps: submissions not
counted and why, and answers waiting for a mapping; then the form's mapping page, where an edit that
does not validate is refused with its problems. Nothing runs as script (the pages have none)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.app import indicator_fixtures as fx
from tests.app.conftest import World
from tests.app.test_admin_browser import (  # noqa: F401  (fixtures)
    Shots,
    browser,
    live,
    log_in,
    page,
    shots,
)

pytestmark = pytest.mark.slow


def test_analyst_reads_the_dashboard_with_charts_and_gaps(
    world: World,
    live: str,  # noqa: F811  (the imported fixture)
    page: Page,  # noqa: F811
    shots: Shots,  # noqa: F811
) -> None:
    fx.publish_pt(world)
    res = world.client.put(
        f"/v1/projects/{world.project_id}/forms/{fx.PT}/mapping",
        json={"document": fx.PT_MAPPING},
        headers=world.headers("analyst"),
    )
    assert res.status_code == 200
    for i in range(7):
        fx.submit(
            world,
            fx.PT,
            fx.pt_xml(f"b-{i}", pais="1", agua="2", ajuda="1", idades=[8, 30], nac="3" if i == 0 else "1"),
        )
        if i < 6:
            fx.review(world, fx.PT, f"b-{i}", "approved")
    # One more in April: that month is below k (primary) and March, the only other month, goes too
    # (secondary); the total stays published.
    fx.submit(
        world,
        fx.PT,
        fx.pt_xml("b-apr", pais="1", agua="2", ajuda="1", idades=[8, 30], fim="2024-04-02T09:00:00"),
    )
    fx.review(world, fx.PT, "b-apr", "approved")
    log_in(page, live, world, "analyst")
    page.goto(f"{live}/admin/projects/{world.project_id}")
    page.get_by_role("link", name="Indicadores").click()
    expect(page.get_by_role("heading", name="Indicadores", exact=True)).to_be_visible()
    panel = page.locator("section[data-indicator='NEED-03']")
    expect(panel.locator(".indicator-total")).to_have_text("100.0%")
    expect(panel.locator("svg.chart rect.bar")).to_have_count(0)
    expect(panel.locator("svg.chart rect[stroke-dasharray]")).to_have_count(2)
    expect(page.locator("section.indicator svg.chart").first).to_be_visible()
    suppressed = page.locator("section[data-indicator='FLW-03']")
    expect(suppressed.locator(".indicator-total")).to_have_text("50.0%")
    expect(page.locator("section[data-indicator='NEED-05'] .indicator-total")).to_have_text("—")
    gaps = page.locator("#indicator-gaps")
    expect(gaps.locator("tr[data-reason='state:received'] td.num")).to_have_text("1")
    expect(gaps.locator("#unmapped-table")).to_contain_text("respondent.nationality_iso3")
    expect(gaps.locator("#unmapped-table")).to_contain_text("/data/nac")
    shots(page, "indicators-dashboard")

    # From the dashboard to the form's mapping: confirmed, readable, and an edit that does not validate
    # is refused with its problems, keeping the confirmed version.
    page.locator("#mapping-links a").first.click()
    expect(page.locator("#mapping-status")).to_have_attribute("data-status", "confirmed")
    expect(page.locator("#mapping-fields")).to_contain_text("/data/agua")
    expect(page.locator("#mapping-fields")).to_contain_text("needs.water_source_safe")
    page.locator("#mapping-advanced summary").click()  # the YAML is the advanced view
    editor = page.locator("#mapping-document")
    expect(editor).to_contain_text("/data/agua")
    editor.fill(editor.input_value().replace("needs.water_source_safe", "needs.water_is_lovely"))
    page.locator("#confirm-mapping").click()
    expect(page.locator("#refused-problems")).to_contain_text("/data/agua")
    expect(page.locator("#mapping-status")).to_contain_text(f"{fx.PT}@v1")
    shots(page, "indicators-mapping")
