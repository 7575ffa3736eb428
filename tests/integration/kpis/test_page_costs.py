"""What a KPI page costs per request, on the real database: the impact section is computed by the
roll-up (not by the page, which read every prediction of two weeks on each request: a 3.1 s p95 under
load), the page's queries stay the same when the data triples, the charts are drawn once per data
and drawn again when new predictions arrive."""

import html
import json
import re

import pandas as pd
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.kpis import charts
from apps.kpis.rollup import kpi_rollup
from apps.serving.ingest import ingest_batch
from tests.integration.kpis.conftest import APPROVAL, DAY1, DAY2, DAY3, records, with_ids
from tests.integration.kpis.test_pages import logged_in, make_kpi

pytestmark = pytest.mark.django_db


def _ingest(world, scored, start: int, per_day: int) -> list:
    """``per_day`` applications on each of DAY1, DAY2 (v1) and DAY3 (v2), from row ``start``."""
    days = [with_ids(scored.iloc[start + i * per_day : start + (i + 1) * per_day]) for i in range(3)]
    ingest_batch(
        records(days[0], world["v1"], DAY1)
        + records(days[1], world["v1"], DAY2)
        + records(days[2], world["v2"], DAY3)
    )
    return days


def _page(client, kpi) -> tuple[str, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        answer = client.get(reverse("kpis:detail", args=[kpi.pk]), {"period": "all"})
    assert answer.status_code == 200
    return answer.content.decode(), [q["sql"] for q in queries.captured_queries]


def _expected_difference(days: list) -> str:
    """v2's approval rate (DAY3) minus the 7 days before it went live (DAY1 and DAY2), as shown."""
    before = [p == "good" for d in days[:2] for p in d["prediction"]]
    after = [p == "good" for p in days[2]["prediction"]]
    diff = sum(after) / len(after) - sum(before) / len(before)
    return f"{'+' if diff > 0 else '−'}{100 * abs(diff):.1f} pts"


def _series_counts(page: str) -> list[int]:
    """n of each point in the series chart's figure, as the browser gets it."""
    figure = json.loads(
        html.unescape(re.search(r'data-testid="kpi-chart" data-figure="([^"]+)"', page).group(1))
    )
    line = next(trace for trace in figure["data"] if trace.get("mode") == "lines+markers")
    return [custom[1] for custom in line["customdata"]]


def _shown_difference(page: str) -> str:
    return re.search(r'data-testid="impact-difference">([^<]+)<', page).group(1)


def test_the_kpi_page_reads_no_prediction_and_keeps_its_queries_as_data_triples(world, scored):
    first = _ingest(world, scored, 0, 200)
    kpi = make_kpi(world, "Approval rate", "share", APPROVAL, band_low=0.5, band_high=0.95)
    kpi_rollup(kpi=kpi, settle=0)  # computes the impact section too
    client = logged_in(world["bea"])
    page, queries = _page(client, kpi)
    assert not [q for q in queries if "serving_prediction" in q], "the page read the prediction log"
    assert _shown_difference(page) == _expected_difference(first)

    more = _ingest(world, scored, 600, 400)  # 3 times the rows
    kpi_rollup(kpi=kpi, settle=0)
    page, queries_3x = _page(client, kpi)
    assert len(queries_3x) == len(queries)
    assert not [q for q in queries_3x if "serving_prediction" in q]
    # The new rows are in the impact the page shows: recomputed because the points changed.
    days = [pd.concat([first[i], more[i]]) for i in range(3)]
    assert _shown_difference(page) == _expected_difference(days)


def test_the_series_chart_is_drawn_once_per_data_and_again_when_predictions_arrive(
    world, scored, monkeypatch
):
    drawn = []
    draw = charts.series_chart

    def counting(kpi, points, annotations, **kwargs):
        drawn.append([p["n"] for p in points])
        return draw(kpi, points, annotations, **kwargs)

    counting.__qualname__ = draw.__qualname__
    monkeypatch.setattr(charts, "series_chart", counting)
    _ingest(world, scored, 0, 100)
    kpi = make_kpi(world, "Approval rate", "share", APPROVAL)
    kpi_rollup(kpi=kpi, settle=0)
    client = logged_in(world["bea"])
    first, _ = _page(client, kpi)
    again, _ = _page(client, kpi)
    assert drawn == [[100, 100, 100]]  # the second request found the figure in the cache
    assert _series_counts(first) == _series_counts(again) == [100, 100, 100]

    _ingest(world, scored, 300, 50)
    kpi_rollup(kpi=kpi, settle=0)
    page, _ = _page(client, kpi)
    assert drawn == [[100, 100, 100], [150, 150, 150]]  # new points: a new figure
    assert _series_counts(page) == [150, 150, 150]


def test_a_kpi_page_comes_from_the_cache_until_its_points_change(world, scored):
    _ingest(world, scored, 0, 100)
    kpi = make_kpi(world, "Approval rate", "share", APPROVAL)
    kpi_rollup(kpi=kpi, settle=0)
    client = logged_in(world["bea"])
    first, queries = _page(client, kpi)
    again, cached_queries = _page(client, kpi)
    assert len(queries) > 10 and len(cached_queries) <= 3  # the session's user only
    assert _series_counts(again) == _series_counts(first) == [100, 100, 100]

    _ingest(world, scored, 300, 50)
    kpi_rollup(kpi=kpi, settle=0)
    page, _ = _page(client, kpi)
    assert _series_counts(page) == [150, 150, 150]
