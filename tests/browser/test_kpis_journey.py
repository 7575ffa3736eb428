"""bea, the business owner, opens Modelyard after the demo's week: on her home the approval-rate
tile is out of band; its page draws the series (our plotly.js) with the canary, the deployment and
the drift alert marked, says what changed, and shows the impact of the last version change with
its interval; another model's KPI is not hers to see."""

import os
import re

import pytest

from tests.integration.kpis.test_pages_demo import PASSWORD, demo  # noqa: F401

SHOTS = os.environ.get("MODELYARD_SCREENSHOT_DIR")  # set it to look at the pages as a user would

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_bea_sees_the_approval_rate_out_of_band_and_the_impact_of_the_canary(demo, login):  # noqa: F811
    page = login("bea", PASSWORD)
    tile = page.locator('[data-testid="home-kpis"] [data-kpi="Approval rate"]')
    assert tile.get_attribute("data-status") == "out_of_band"
    assert "out of band" in tile.inner_text()
    page.wait_for_selector('[data-kpi="Approval rate"] .spark .main-svg')  # the sparkline is drawn
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/business-home.png", full_page=True)

    # The open KPI alert's badge is a link of its own, above the tile's link to the KPI page.
    badge = tile.locator('[data-testid="kpi-alert"]')
    assert re.fullmatch(r"open alert #\d+", badge.inner_text())
    badge.click()
    page.wait_for_url(re.compile(r"/kpis/alerts/"))
    assert page.locator('[data-testid="kpi-alert-row"]').count() >= 1
    page.go_back()

    tile.click()
    page.wait_for_selector('[data-testid="kpi-chart"] .main-svg')
    assert page.locator('[data-testid="kpi-title"]').inner_text() == "Approval rate"
    # One hover marker per annotation: the "events" trace Plotly drew, and a dotted line each.
    chart = page.locator('[data-testid="kpi-chart"]')
    events = chart.evaluate("el => el.data.find(t => t.name === 'events').hovertext")
    kinds = page.locator('[data-testid="annotations"] li').evaluate_all("els => els.map(e => e.dataset.kind)")
    assert len(events) == len(kinds) and {"deployment", "canary", "alert"} <= set(kinds)
    assert any("canary v2 starts" in e for e in events) and any("drift alert" in e for e in events)
    assert chart.evaluate("el => el.layout.shapes.filter(s => s.type === 'line').length") >= len(kinds)
    changed = page.locator('[data-testid="what-changed"]').inner_text()
    assert "fell" in changed and "Income" in changed
    impact = page.locator('[data-testid="impact"]')
    assert "canary" in impact.locator("#id_change option:checked").inner_text()
    interval = impact.locator('[data-testid="impact-interval"]').inner_text()
    assert re.fullmatch(r"\([+−]\d+\.\d pts to [+−]\d+\.\d pts\)", interval)

    # A breakdown by Home: the table gains a row per value and a bar chart.
    page.select_option("#id_segment", "inputs.Home")
    page.click('[data-testid="impact"] button[type=submit]')
    page.wait_for_selector('[data-testid="impact-chart"] .main-svg')
    assert page.locator('[data-testid="impact-segment"]').count() >= 3
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/kpi.png", full_page=True)
