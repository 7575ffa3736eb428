"""Rollup rows into steps, per version and in total; the period's summary; the budget timeline."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from apps.sla import series, stats

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class Row:
    minute: datetime
    version_number: int
    count: int
    errors: int = 0
    client_errors: int = 0
    latency_sum_ms: float = 0.0
    buckets: list = field(default_factory=stats.empty)


def row(minute: int, version: int, latencies: list[float], errors: int = 0, client_errors: int = 0) -> Row:
    buckets = stats.empty()
    for ms in latencies:
        buckets[stats.bucket_of(ms)] += 1
    return Row(
        T0 + timedelta(minutes=minute),
        version,
        len(latencies),
        errors,
        client_errors,
        sum(latencies),
        buckets,
    )


def test_steps_are_aligned_to_the_epoch_and_cover_the_period():
    starts = series.step_starts(T0 + timedelta(minutes=7), T0 + timedelta(minutes=31), 600)
    assert starts == [T0, T0 + timedelta(minutes=10), T0 + timedelta(minutes=20), T0 + timedelta(minutes=30)]


def test_build_adds_minutes_into_steps_per_version_and_in_total():
    rows = [row(0, 1, [2.0] * 60), row(3, 1, [2.0] * 30, errors=3), row(4, 2, [40.0] * 10, client_errors=1)]
    built = series.build(rows, since=T0, until=T0 + timedelta(minutes=10), step_seconds=300)
    assert len(built["total"]) == 2 and sorted(built["versions"]) == [1, 2]
    first = built["total"][0]
    assert first["count"] == 100 and first["errors"] == 3 and first["client_errors"] == 1
    assert first["rps"] == pytest.approx(100 / 300, abs=1e-4) and first["error_rate"] == pytest.approx(0.03)
    assert first["p50"] < 2.6 and 30 < first["p99"] <= 40.0 * stats.BUCKET_RATIO
    assert built["versions"][2][0]["count"] == 10 and built["versions"][1][0]["p99"] < 2.6
    empty = built["total"][1]
    assert empty["count"] == 0 and empty["p99"] is None and empty["error_rate"] is None


def test_rows_outside_the_period_are_left_out():
    rows = [row(-5, 1, [1.0]), row(0, 1, [1.0]), row(10, 1, [1.0])]
    built = series.build(rows, since=T0, until=T0 + timedelta(minutes=10), step_seconds=60)
    assert sum(p["count"] for p in built["total"]) == 1


def test_summary_against_the_objectives():
    rows = [row(0, 1, [5.0] * 98 + [80.0] * 2, errors=1)] + [row(m, 1, [5.0] * 100) for m in range(1, 10)]
    summary = series.summarize(rows, availability_target=0.995, latency_ms=50.0, percentile=99)
    assert summary["requests"] == 1000 and summary["errors"] == 1
    assert summary["availability"] == pytest.approx(0.999)
    assert summary["budget_used"] == pytest.approx(0.2) and summary["budget_remaining"] == pytest.approx(0.8)
    assert summary["latency_ms"] < 50.0 and summary["latency_met"]  # p99 of 1000 sits among the 5 ms
    assert summary["latency_compliance"] == pytest.approx(0.9)  # minute 0's p99 is an 80 ms outlier
    assert summary["status"] == "ok"


def test_status_says_bad_once_the_budget_is_spent_and_warn_before():
    budget = stats.error_budget(requests=100, errors=2, target=0.99)
    assert series.status_of(budget, 10.0, 50.0) == "bad"
    assert series.status_of(stats.error_budget(requests=1000, errors=9, target=0.99), 10.0, 50.0) == "warn"
    assert series.status_of(stats.error_budget(requests=1000, errors=0, target=0.99), 90.0, 50.0) == "warn"
    assert series.status_of(stats.error_budget(requests=0, errors=0, target=0.99), None, 50.0) == "idle"


def test_budget_timeline_is_cumulative_and_burn_rate_per_step():
    points = [
        {"t": "a", "count": 100, "errors": 0},
        {"t": "b", "count": 0, "errors": 0},
        {"t": "c", "count": 100, "errors": 2},
    ]
    timeline = series.budget_timeline(points, 0.99)
    assert [p["remaining"] for p in timeline] == [1.0, 1.0, pytest.approx(0.0)]
    assert [p["burn_rate"] for p in timeline] == [0.0, None, pytest.approx(2.0)]


def test_auto_step_keeps_about_a_hundred_and_twenty_points():
    assert series.auto_step(T0, T0 + timedelta(hours=1)) == 60
    assert series.auto_step(T0, T0 + timedelta(hours=6)) == 300
    assert series.auto_step(T0, T0 + timedelta(hours=24)) == 900
    assert series.auto_step(T0, T0 + timedelta(days=7)) == 7200
