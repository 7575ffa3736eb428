"""KPI statistics against SciPy and against simulation: intervals cover about as often as they say."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from apps.kpis import stats


def moments_of(values) -> stats.Moments:
    m = stats.Moments()
    for v in values:
        m.add(float(v))
    return m


@pytest.mark.parametrize(("hits", "n"), [(0, 10), (3, 10), (81, 100), (500, 1000), (1000, 1000)])
def test_wilson_matches_scipy(hits, n):
    expected = sps.binomtest(hits, n).proportion_ci(confidence_level=0.95, method="wilson")
    low, high = stats.wilson_interval(hits, n)
    assert low == pytest.approx(expected.low, abs=1e-12)
    assert high == pytest.approx(expected.high, abs=1e-12)


def test_mean_t_interval_matches_scipy():
    values = np.random.default_rng(0).gamma(2.0, 50.0, 300)
    est = stats.mean_estimate(moments_of(values))
    low, high = sps.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=sps.sem(values))
    assert est.value == pytest.approx(values.mean())
    assert (est.low, est.high) == pytest.approx((low, high))


def test_sum_interval_is_n_times_the_mean_interval():
    values = np.random.default_rng(1).normal(10, 3, 200)
    mean, total = stats.mean_estimate(moments_of(values)), stats.sum_estimate(moments_of(values))
    assert total.value == pytest.approx(values.sum())
    assert total.low == pytest.approx(200 * mean.low) and total.high == pytest.approx(200 * mean.high)


def test_welch_difference_matches_scipy():
    rng = np.random.default_rng(2)
    a, b = rng.normal(0, 1, 80), rng.normal(0.4, 2, 120)
    diff = stats.mean_difference(moments_of(a), moments_of(b))
    ci = sps.ttest_ind(b, a, equal_var=False).confidence_interval(0.95)
    assert diff.difference == pytest.approx(b.mean() - a.mean())
    assert (diff.low, diff.high) == pytest.approx((ci.low, ci.high))


def test_newcombe_hand_computed_example():
    """Newcombe (1998), table II example (56/70 vs 48/80): difference 0.2, interval 0.0524 to 0.3339."""
    diff = stats.share_difference(stats.Counts(80, 48), stats.Counts(70, 56))
    assert diff.difference == pytest.approx(0.2)
    assert diff.low == pytest.approx(0.0524, abs=5e-4)
    assert diff.high == pytest.approx(0.3339, abs=5e-4)


def test_empty_subset_has_no_value_and_no_crash():
    est = stats.share_estimate(stats.Counts())
    assert est.value is None and est.denominator == 0
    assert stats.share_difference(stats.Counts(), stats.Counts(10, 3)).difference is None


@given(st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=60), st.integers(1, 59))
@settings(max_examples=100, deadline=None)
def test_moments_merge_equals_one_pass(values, cut):
    cut = min(cut, len(values) - 1)
    merged = moments_of(values[:cut]).merge(moments_of(values[cut:]))
    whole = moments_of(values)
    assert merged.n == whole.n
    assert merged.mean == pytest.approx(whole.mean, rel=1e-9, abs=1e-6)
    assert merged.variance == pytest.approx(np.var(values, ddof=1), rel=1e-6, abs=1e-3)


def coverage(trials, make_interval, truth) -> float:
    hits = 0
    for i in range(trials):
        low, high = make_interval(np.random.default_rng(1000 + i))
        hits += low <= truth <= high
    return hits / trials


def test_wilson_coverage_near_nominal():
    p, n = 0.7, 150

    def draw(rng):
        return stats.wilson_interval(int(rng.binomial(n, p)), n)

    assert 0.93 <= coverage(2000, draw, p) <= 0.97


def test_newcombe_coverage_near_nominal():
    p1, p2, n1, n2 = 0.72, 0.64, 400, 350

    def draw(rng):
        d = stats.share_difference(
            stats.Counts(n1, int(rng.binomial(n1, p1))), stats.Counts(n2, int(rng.binomial(n2, p2)))
        )
        return d.low, d.high

    assert 0.93 <= coverage(2000, draw, p2 - p1) <= 0.97


def test_welch_and_total_coverage_near_nominal():
    def draw_mean(rng):
        d = stats.mean_difference(
            moments_of(rng.exponential(100, 200)), moments_of(rng.exponential(120, 150))
        )
        return d.low, d.high

    assert 0.93 <= coverage(1000, draw_mean, 20.0) <= 0.97

    def draw_total(rng):
        e = stats.sum_estimate(moments_of(rng.normal(5, 2, 100)))
        return e.low, e.high

    assert 0.93 <= coverage(1000, draw_total, 500.0) <= 0.97


def test_segment_breakdown_orders_by_rows():
    rows = stats.segment_breakdown(
        "share",
        {
            "rent": (stats.Counts(10, 5), stats.Counts(12, 3)),
            "owner": (stats.Counts(100, 70), stats.Counts(90, 60)),
        },
    )
    assert [r["segment"] for r in rows] == ["owner", "rent"]
    assert rows[1]["difference"] == pytest.approx(3 / 12 - 0.5)
    assert not math.isnan(rows[0]["low"])
