"""dana opens the monitoring page of her credit model in a real browser: the heatmap drawn by our
plotly.js with the planted shift flagged, a feature's distribution opened from the heatmap and
from the picker (htmx), then an open alert, which she acknowledges."""

import os

import pytest

from apps.monitoring.models import AlertAction
from tests.integration.monitoring_pages.conftest import PASSWORD, history, income_alert, people  # noqa: F401

SHOTS = os.environ.get("MODELYARD_SCREENSHOT_DIR")  # set it to look at the pages as a user would

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_dana_reads_the_heatmap_and_acknowledges_an_alert(history, login):  # noqa: F811
    page = login("dana", PASSWORD)
    assert int(page.locator('[data-testid="open-alerts"]').inner_text()) > 0  # the home tile
    page.click("nav >> text=Monitoring")
    page.click('[data-testid="monitor-table"] >> text=credit-default')
    page.wait_for_selector('[data-testid="heatmap"] .main-svg')
    heatmap = page.locator('[data-testid="heatmap"]').inner_text()
    assert "Income" in heatmap and "Home" in heatmap
    assert "Income" in page.locator('[data-testid="flagged-latest"]').inner_text()
    for chart in ("chart-shares", "chart-score", "chart-performance", "chart-distribution"):
        page.wait_for_selector(f'[data-testid="{chart}"] .main-svg')

    # A heatmap cell clicked (Plotly's click event, as a real click emits it) opens that feature.
    run = page.locator("#panel-run").input_value()
    page.evaluate(
        """([run]) => document.querySelector('[data-testid="heatmap"]')
             .emit('plotly_click', {points: [{customdata: [run, 'Age']}]})""",
        [run],
    )
    page.wait_for_selector(
        '[data-testid="feature-panel"][data-feature="Age"] [data-testid="chart-distribution"] .main-svg'
    )
    page.select_option("#feature-picker", "Home")
    page.wait_for_selector(
        '[data-testid="feature-panel"][data-feature="Home"] [data-testid="chart-distribution"] .main-svg'
    )
    assert "chi" in page.locator('[data-testid="feature-findings"]').inner_text()
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/monitoring.png", full_page=True)

    page.click('[data-testid="alert-table"] >> text=drift · Income')
    page.wait_for_selector('[data-testid="alert-title"]')
    assert page.locator('[data-testid="alert-state"]').inner_text() == "open"
    page.wait_for_selector('[data-testid="chart-distribution"] .main-svg')
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/alert.png", full_page=True)
    page.fill("#id_resolve_reason", "")
    page.click('[data-testid="action-resolve"] button')
    assert "needs a reason" in page.locator('[data-testid="error-reason-resolve"]').inner_text()
    page.click('[data-testid="action-acknowledge"] button')
    page.wait_for_selector("text=Acknowledge recorded, by dana")
    assert page.locator('[data-testid="alert-state"]').inner_text() == "acknowledged"
    assert "dana" in page.locator('[data-testid="alert-history"]').inner_text()
    assert AlertAction.objects.get(alert=income_alert(history)).actor.username == "dana"
