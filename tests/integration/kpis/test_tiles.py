"""KPI tiles at the day boundary, on the real database (issue 14, part 6): the tile's number is the
latest complete window with a value, with its dates and band colour and the KPI's open alert; the
window in progress is shown beside it, labelled partial; a newer complete window without a value
does not blank the tile ("–") when an earlier one has a value, however old."""

import html
import re
from datetime import timedelta

import pandas as pd
import pytest
from django.urls import reverse
from django.utils import timezone

from apps.kpis.formatting import format_value
from apps.kpis.models import KpiAlert
from apps.kpis.rollup import kpi_rollup
from apps.serving.ingest import ingest_batch
from apps.serving.outcomes import outcomes_submit
from tests.integration.kpis.conftest import (
    APPROVAL,
    DAY1,
    DAY3,
    DEFAULT_AMONG_APPROVED,
    PROFIT,
    outcome_records,
    records,
    with_ids,
)
from tests.integration.kpis.test_pages import logged_in, make_kpi

pytestmark = pytest.mark.django_db


def _tile(page: str, name: str) -> str:
    """The HTML of the tile of KPI ``name`` on ``page``."""
    tiles = page.split('class="kpi-tile ')[1:]
    found = [t for t in tiles if f'data-kpi="{name}"' in t]
    assert len(found) == 1, f"one tile for {name}"
    return found[0]


def _testid(tile: str, testid: str) -> str | None:
    """The text of the element marked ``testid`` in the tile, tags removed (None: absent)."""
    match = re.search(rf'data-testid="{testid}"[^>]*>(.*?)</(?:div|span|a)>\s*(?:<|$)', tile, re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", match.group(1))).strip() if match else None


def _so_far_today(rows: list[dict], now) -> list[dict]:
    """``rows`` spread over what has passed of today (UTC), ending before ``now``."""
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    step = (now - today) / (len(rows) + 2)
    return [{**r, "ts": (today + step * (i + 1)).isoformat()} for i, r in enumerate(rows)]


def _mix(scored: pd.DataFrame, good: int, bad: int, skip: int = 0) -> pd.DataFrame:
    """``good`` rows the model approves and ``bad`` it declines, after the first ``skip`` of each."""
    approved = scored[scored["prediction"] == "good"].iloc[skip : skip + good]
    declined = scored[scored["prediction"] == "bad"].iloc[skip : skip + bad]
    return with_ids(pd.concat([approved, declined]).sample(frac=1.0, random_state=1))


def test_after_midnight_the_tile_keeps_yesterdays_out_of_band_value_its_alert_and_marks_today_partial(
    world, scored
):
    now = timezone.now()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    yesterday, before = today - timedelta(days=1), today - timedelta(days=2)
    live = world["v2"]
    ingest_batch(
        records(_mix(scored, 160, 40, skip=0), live, before)  # 80 %: in band
        + records(_mix(scored, 136, 64, skip=200), live, yesterday)  # 68 %: out of band
        + _so_far_today(records(_mix(scored, 32, 8, skip=400), live, today), now)  # 80 % so far
    )
    approval = make_kpi(world, "Approval rate", "share", APPROVAL, band_low=0.75, band_high=0.95, target=0.8)
    kpi_rollup(kpi=approval, settle=0)
    alert = KpiAlert.objects.get(kpi=approval)  # yesterday, the latest complete window, left the band

    client = logged_in(world["bea"])
    for url in (reverse("kpis:list"), reverse("dashboards:home")):
        tile = _tile(client.get(url).content.decode(), "Approval rate")
        assert 'data-status="out_of_band"' in tile
        assert _testid(tile, "kpi-value") == "68.0%"
        assert "out of band" in tile and "▼ −12.0 pts" in tile  # against the day before
        assert _testid(tile, "kpi-window") == (
            f"complete day: {yesterday:%Y-%m-%d} 00:00 – {today:%Y-%m-%d} 00:00 UTC · n=200"
        )
        # The open alert, linked to its row on the KPI alerts page.
        assert _testid(tile, "kpi-alert") == f"open alert #{alert.pk}"
        assert f'href="{reverse("kpis:alert-list")}?state=all#kpi-alert-{alert.pk}"' in tile
        # Today so far: shown, labelled partial, not judged against the band.
        partial = _testid(tile, "kpi-partial")
        assert partial.startswith(
            f"partial {today:%a} {today.day} {today:%b %Y} so far: 80.0% (n=40, 95 % interval"
        )
        assert "not judged against the band" in partial


def test_a_kpi_with_a_value_only_in_an_earlier_window_shows_that_value_not_a_dash(world, scored):
    day1 = with_ids(scored.iloc[:300])
    day3 = with_ids(scored.iloc[300:600])
    now = timezone.now()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    ingest_batch(
        records(day1, world["v1"], DAY1)
        + records(day3, world["v2"], DAY3)
        # a few predictions today: the latest window is weeks after the last one with a value
        + _so_far_today(records(with_ids(scored.iloc[600:620]), world["v2"], today), now)
    )
    outcomes_submit(user=world["dana"], records=outcome_records(day1))  # DAY3's have not arrived
    approval = make_kpi(world, "Approval rate", "share", APPROVAL)
    defaults = make_kpi(world, "Defaults among approved", "rate_among", DEFAULT_AMONG_APPROVED)
    profit = make_kpi(world, "Profit", "mean", PROFIT, decimals=2)
    for kpi in (approval, defaults, profit):
        kpi_rollup(kpi=kpi, settle=0)

    page = logged_in(world["bea"]).get(reverse("kpis:list")).content.decode()
    for kpi in (defaults, profit):
        day1_value = kpi.points.get(start=DAY1).value
        assert day1_value is not None and kpi.points.get(start=DAY3).value is None
        tile = _tile(page, kpi.name)
        assert _testid(tile, "kpi-value") == format_value(kpi, day1_value) != "–"
        assert "2025-03-03 00:00 – 2025-03-04 00:00 UTC" in _testid(tile, "kpi-window")
        # The newer complete window is named, with why it has no value.
        assert _testid(tile, "kpi-unvalued") == (
            "Wed 5 Mar 2025: no value — no outcome has arrived yet for this window's predictions; "
            "300 of 300 predictions still wait for an outcome and are not counted"
        )
        assert _testid(tile, "kpi-partial").startswith(
            f"partial {today:%a} {today.day} {today:%b %Y} so far: –"
        )
    # The approval rate needs no outcome: its latest complete window is DAY3.
    tile = _tile(page, "Approval rate")
    assert _testid(tile, "kpi-value") == format_value(approval, approval.points.get(start=DAY3).value)
    assert _testid(tile, "kpi-unvalued") is None
