"""The response dashboard's charts (issue 20): inline SVG beside the tables, 390 units wide, translated,
with no suppressed value drawn. Every coordinate is hand-computed beside it from the chart's constants:
gap bars over PLOT = 390 − 96 − 8 = 286 units; flow lines over x = 36 + i × 346 / 11 (month i from 0)
and y = 8 + 140 − movements / top × 140."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from app.web.admin import charts
from tests.app.admin_helpers import login
from tests.app.conftest import World
from tests.app.test_flows import A, B, C, counted  # noqa: F401  (fixture)
from tests.app.test_response import reported  # noqa: F401  (fixture)

EXTRA = {
    "country": "COL", "cva": False, "implementing_partner": None, "organisation": "OIM",
    "admin1": "CO11", "admin2": "CO11001", "month": "2026-03", "sector": "wash", "indicator": "WASH-01",
    "total_beneficiaries": 3, "new_beneficiaries": 3, "pendular": 3, "women": 3,
}  # fmt: skip


def _row(site: str, period: str, movements: int | None) -> SimpleNamespace:
    return SimpleNamespace(key={"site": site, "period": period}, movements=movements)


def test_flow_lines_break_at_hidden_months_and_never_draw_them() -> None:
    rows = [
        _row("S", "2026-01", 10),
        _row("S", "2026-02", None),  # hidden
        _row("S", "2026-03", 20),
        _row("S", "2026-04", 40),
        _row("T", "2026-01", 5),
        _row("S", "2025-12", 999),  # another year: not on this axis
    ]
    chart = charts.flow_chart(rows, 2026)
    assert chart is not None
    assert (chart.top, chart.hidden, chart.left_out) == (40, 1, 0)
    s, t = chart.series
    assert (s.site, t.site) == ("S", "T")  # most movements first: 70 and 5
    # S: Jan (36, 148 − 10/40 × 140 = 113), then a break, then Mar (36 + 2 × 346/11 = 98.9, 78) and
    # Apr (36 + 3 × 346/11 = 130.4, 8).
    assert [[(p.month, p.x, p.y) for p in seg] for seg in s.segments] == [
        [("2026-01", 36.0, 113.0)],
        [("2026-03", 98.9, 78.0), ("2026-04", 130.4, 8.0)],
    ]
    assert [(p.x, p.y) for p in t.points] == [(36.0, 130.5)]  # 148 − 5/40 × 140
    assert chart.months[-1] == ("2026-12", 382.0)  # 36 + 346
    # Two legend rows would be one: two series, three to a row; 8 + 140 + 22 + 16.
    assert chart.height == 186


def test_flow_chart_draws_at_most_six_sites_and_says_how_many_are_left_out() -> None:
    rows = [_row(f"S{i}", "2026-05", 10 + i) for i in range(8)]
    chart = charts.flow_chart(rows, 2026)
    assert chart is not None
    assert [s.site for s in chart.series] == ["S7", "S6", "S5", "S4", "S3", "S2"]
    assert chart.left_out == 2 and chart.height == 8 + 140 + 22 + 2 * 16
    assert charts.flow_chart([_row("S", "2026-05", None)], 2026) is None  # nothing to draw


def test_gap_bars_share_one_scale_and_skip_hidden_reach() -> None:
    rows = [
        SimpleNamespace(split="a", people_in_need=200, reached=50),
        SimpleNamespace(split="b", people_in_need=None, reached=None),
        SimpleNamespace(split="c", people_in_need=40, reached=250),  # reached beyond the plan
    ]
    chart = charts.gap_chart(rows, key=lambda r: r.split)
    assert chart is not None
    # top 250: a 200/250 × 286 = 228.8 and 50/250 × 286 = 57.2; c 40/250 × 286 = 45.8 and 286.
    assert [(b.key, b.need_width, b.reached_width) for b in chart.bars] == [
        ("a", 228.8, 57.2),
        ("b", 0.0, None),
        ("c", 45.8, 286.0),
    ]
    assert [b.y for b in chart.bars] == [4.0, 26.0, 48.0]  # 22 a row, the 14-unit bar centred
    assert (chart.top, chart.hidden, chart.height) == (250, 1, 3 * 22 + 16)


def _svg(html: str, chart_id: str) -> str:
    return html.split(f'id="{chart_id}"')[1].split("</svg>")[0]


def test_dashboard_draws_gaps_and_flows_beside_their_tables(
    counted: World,  # noqa: F811
    reported: World,  # noqa: F811
) -> None:
    # A small pendular reach (3) in CO11 in March: hidden in the population split, with in_transit (15,
    # the smallest other) as its partner.
    res = counted.client.post(
        f"/v1/projects/{counted.project_id}/activities", json=[EXTRA], headers=counted.headers("analyst")
    )
    assert res.status_code == 200, res.json
    client = login(counted, "manager")
    html = client.get(
        f"/admin/projects/{counted.project_id}/response?year=2026", headers={"Accept-Language": "en"}
    ).data.decode()

    place = _svg(html, "chart-gaps-by-place")
    # CO54: 330 in need, 70 reached; CO11: 30 in need, 12 + 3 = 15 reached. Scale 330:
    # 330/330 × 286 = 286, 70/330 × 286 = 60.7; 30/330 × 286 = 26, 15/330 × 286 = 13.
    widths = {
        key: re.findall(r'class="(need|reached)" x="96" y="[\d.]+" width="([\d.]+)"', group)
        for key, group in re.findall(r'<g data-key="([^"]+)">(.*?)</g>', place, re.S)
    }
    assert widths == {
        "CO11": [("need", "26.0"), ("reached", "13.0")],
        "CO54": [("need", "286.0"), ("reached", "60.7")],
    }
    assert 'viewBox="0 0 390 ' in place and 'aria-labelledby="chart-gaps-by-place-title' in place

    population = _svg(html, "chart-gaps-by-population")
    groups = dict(re.findall(r'<g data-key="([^"]+)">(.*?)</g>', population, re.S))
    # In need: in_destination 100 + 40 + 80 = 220, in_transit 60, host_community 50 + 30 = 80. Reached:
    # 45, hidden (15, the partner), 10 + 12 = 22; pendular 3 hidden. Scale 220: 286, 58.5; 78; 104, 28.6.
    assert 'class="need" x="96" y="4.0" width="286.0"' in groups["in_destination"]
    assert 'class="reached" x="96" y="7.0" width="58.5"' in groups["in_destination"]
    assert 'width="104.0"' in groups["host_community"] and 'width="28.6"' in groups["host_community"]
    assert 'width="78.0"' in groups["in_transit"]
    for hidden in ("in_transit", "pendular"):
        assert 'class="reached"' not in groups[hidden] and "hidden-mark" in groups[hidden]
    assert ">15<" not in population and ">3<" not in population and "15 reached" not in population
    table = html.split('id="gaps-by-population"')[1].split("</section>")[0].split("</svg>")[-1]
    assert (
        '<tr data-population="in_transit"><td>in_transit</td><td class="num">60</td><td class="num">*'
        in table
    )

    flows_svg = _svg(html, "chart-flows")
    # A, March 11 and B, March 6 (top 11): x 36 + 2 × 346/11 = 98.9; y 8 and 148 − 6/11 × 140 = 71.6.
    # A, February (3) and C, March (2) are hidden: no point, and C has no line at all.
    points = re.findall(r'<g class="series" data-site="([^"]+)"[^>]*>.*?<circle data-month="([^"]+)" '
                        r'cx="([\d.]+)" cy="([\d.]+)"', flows_svg, re.S)  # fmt: skip
    assert points == [(A, "2026-03", "98.9", "8.0"), (B, "2026-03", "98.9", "71.6")]
    assert flows_svg.count("<circle") == 2 and C not in flows_svg and "2026-02:" not in flows_svg
    assert "Hidden counts are not drawn: 2." in html.split('id="chart-flows"')[1].split("</figure>")[0]
    # The table stays beside the chart.
    assert f'data-site="{A}" data-period="2026-03"><td>{A}</td>' in html

    for lang, title, place in (
        (
            "es",
            "Movimientos contados por sitio y mes en 2026",
            "Personas con necesidad y alcanzadas por lugar",
        ),
        (
            "pt",
            "Movimentos contados por local e mês em 2026",
            "Pessoas com necessidade e alcançadas por lugar",
        ),
    ):
        page = client.get(
            f"/admin/projects/{counted.project_id}/response?year=2026", headers={"Accept-Language": lang}
        ).data.decode()
        assert title in _svg(page, "chart-flows") and place in _svg(page, "chart-gaps-by-place")
        assert "Movements counted per site" not in page and "People in need (light bar)" not in page


def test_dashboard_without_figures_draws_no_chart(world: World) -> None:
    client = login(world, "manager")
    html = client.get(
        f"/admin/projects/{world.project_id}/response?year=2026", headers={"Accept-Language": "en"}
    ).data.decode()
    assert "<svg" not in html and "No flow counts for this year." in html


@pytest.mark.slow
def test_dashboard_with_charts_fits_a_phone_and_fetches_nothing_elsewhere(
    counted: World,  # noqa: F811
    reported: World,  # noqa: F811
    live: str,
) -> None:
    """At 390 × 844 in Chromium the page with all three charts scrolls no wider than the screen, each
    chart is drawn inside it, and every request goes to Ruta itself (no CDN, no third party)."""
    from playwright.sync_api import sync_playwright

    from tests.app.test_admin_browser import CHROMIUM, CHROMIUM_ARGS
    from tests.app.test_admin_forms_browser import log_in

    elsewhere: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(locale="pt-BR", viewport={"width": 390, "height": 844})
        page = context.new_page()
        page.on("request", lambda r: None if r.url.startswith(live) else elsewhere.append(r.url))
        log_in(page, live, counted, "manager")
        page.goto(f"{live}/admin/projects/{counted.project_id}/response?year=2026")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        for chart in ("chart-gaps-by-place", "chart-gaps-by-population", "chart-flows"):
            box = page.locator(f"#{chart}").bounding_box()
            assert box is not None and box["width"] > 200 and box["x"] + box["width"] <= 390, (chart, box)
        title = page.locator("#chart-flows-title").text_content() or ""
        assert title == "Movimentos contados por local e mês em 2026"
        context.close()
        browser.close()
    assert elsewhere == []
