"""Histogram bounds, merging, percentiles against numpy, and the error budget's arithmetic."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.sla import stats


def histogram_of(samples_ms) -> list[int]:
    counts = stats.empty()
    for ms in samples_ms:
        counts[stats.bucket_of(ms)] += 1
    return counts


def test_bounds_are_log_spaced_from_a_quarter_millisecond_to_ten_seconds():
    assert stats.BOUNDS_MS[0] == 0.25 and stats.BOUNDS_MS[-1] == 10_000.0
    ratios = np.diff(np.log10(stats.BOUNDS_MS))
    assert np.allclose(ratios, 0.1, atol=1e-3)  # ten buckets per decade
    assert len(stats.BOUNDS_MS) + 1 == stats.BUCKETS


def test_bucket_edges_belong_to_the_lower_bucket_and_overflow_has_its_own():
    assert stats.bucket_of(0.0) == 0
    assert stats.bucket_of(0.25) == 0
    assert stats.bucket_of(0.2501) == 1
    assert stats.bucket_of(10_000.0) == len(stats.BOUNDS_MS) - 1
    assert stats.bucket_of(60_000.0) == len(stats.BOUNDS_MS)


def test_merge_adds_bucket_by_bucket_and_refuses_other_shapes():
    a, b = histogram_of([1.0, 2.0, 2.0]), histogram_of([2.0, 500.0])
    merged = stats.merge(a, b)
    assert sum(merged) == 5 and merged[stats.bucket_of(2.0)] == 3
    assert merged == histogram_of([1.0, 2.0, 2.0, 2.0, 500.0])
    with pytest.raises(ValueError, match="48 buckets, not 3"):
        stats.merge([1, 2, 3])


def test_sparse_round_trip_and_bad_buckets():
    dense = histogram_of([0.3, 0.3, 40.0])
    assert stats.from_sparse(stats.to_sparse(dense)) == dense
    assert set(stats.to_sparse(dense)) == {str(stats.bucket_of(0.3)), str(stats.bucket_of(40.0))}
    with pytest.raises(ValueError, match="bucket 99"):
        stats.from_sparse({"99": 1})
    with pytest.raises(ValueError, match="bucket 3"):
        stats.from_sparse({"3": -1})


def _within_a_bucket(estimate: float, exact: float) -> bool:
    """The estimate lies in the bucket of the exact value or a neighbour (numpy interpolates
    between two samples that may sit on either side of a bound)."""
    i = stats.bucket_of(exact)
    low = stats.BOUNDS_MS[i - 2] if i >= 2 else 0.0
    high = stats.BOUNDS_MS[min(i + 1, len(stats.BOUNDS_MS) - 1)]
    return low <= estimate <= high


@pytest.mark.parametrize("q", [50, 90, 95, 99, 99.9])
def test_percentiles_match_numpy_within_a_bucket_on_lognormal_latencies(q):
    rng = np.random.default_rng(7)
    samples = rng.lognormal(mean=np.log(3.0), sigma=0.8, size=20_000)  # a few ms, a long tail
    estimate = stats.percentile(histogram_of(samples), q)
    exact = float(np.percentile(samples, q))
    assert _within_a_bucket(estimate, exact)
    assert abs(estimate / exact - 1) < stats.BUCKET_RATIO - 1  # within one bucket's relative width


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(min_value=0.01, max_value=9_000, allow_nan=False), min_size=50, max_size=400),
    st.sampled_from([50, 95, 99]),
)
def test_percentiles_stay_within_a_bucket_of_numpy_for_any_sample(samples, q):
    estimate = stats.percentile(histogram_of(samples), q)
    assert _within_a_bucket(estimate, float(np.percentile(samples, q)))


def test_percentile_of_nothing_is_none_and_of_overflow_is_the_last_bound():
    assert stats.percentile(stats.empty(), 99) is None
    assert stats.percentile(histogram_of([20_000.0, 30_000.0]), 50) == 10_000.0
    with pytest.raises(ValueError, match="between 0 and 100"):
        stats.percentile(stats.empty(), 101)


def test_percentile_interpolates_inside_one_bucket():
    i = stats.bucket_of(5.0)
    histogram = stats.empty()
    histogram[i] = 4
    low, high = stats.BOUNDS_MS[i - 1], stats.BOUNDS_MS[i]
    assert stats.percentile(histogram, 50) == pytest.approx(low + (high - low) / 2)
    assert stats.percentile(histogram, 100) == pytest.approx(high)


def test_error_budget_burn():
    on_target = stats.error_budget(requests=10_000, errors=50, target=0.995)
    assert on_target.availability == pytest.approx(0.995) and on_target.used == pytest.approx(1.0)
    assert on_target.met and on_target.remaining == pytest.approx(0.0)
    half = stats.error_budget(requests=1000, errors=1, target=0.998)
    assert half.used == pytest.approx(0.5) and half.remaining == pytest.approx(0.5)
    missed = stats.error_budget(requests=100, errors=3, target=0.99)
    assert missed.used == pytest.approx(3.0) and missed.met is False
    idle = stats.error_budget(requests=0, errors=0, target=0.99)
    assert idle.availability is None and idle.used is None and idle.met is None


def test_error_budget_refuses_impossible_input():
    with pytest.raises(ValueError, match="between 0 and 1"):
        stats.error_budget(requests=1, errors=0, target=1.0)
    with pytest.raises(ValueError, match="impossible"):
        stats.error_budget(requests=1, errors=2, target=0.9)


def test_latency_compliance_is_the_share_of_minutes_with_traffic_that_met_the_target():
    assert stats.latency_compliance([10.0, 60.0, None, 40.0, 50.0], 50.0) == pytest.approx(0.75)
    assert stats.latency_compliance([None, None], 50.0) is None
