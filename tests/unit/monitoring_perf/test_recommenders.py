"""Recommender statistics on distributions whose answers are known."""

import numpy as np
import pytest

from apps.monitoring.stats import drift
from apps.monitoring.stats.recommenders import catalogue_coverage, gini, item_drift, popularity_concentration


def test_gini_on_known_distributions():
    assert gini([7, 7, 7, 7]) == pytest.approx(0.0)
    assert gini([0, 0, 0, 10]) == pytest.approx(3 / 4)  # one of n holds all: (n − 1)/n
    assert gini([1, 2, 3, 4]) == pytest.approx(0.25)  # mean absolute difference / (2 · mean)
    rng = np.random.default_rng(0)
    assert gini(rng.exponential(size=200_000)) == pytest.approx(0.5, abs=0.01)  # exponential: 1/2


def test_popularity_concentration_counts_unrecommended_items_when_told_the_catalogue():
    uniform = popularity_concentration({f"i{k}": 5 for k in range(20)})
    assert uniform["gini"] == pytest.approx(0.0) and uniform["top_share"] == pytest.approx(0.1)
    skewed = popularity_concentration({"a": 90, "b": 10}, catalogue_size=10)
    assert skewed["gini"] == pytest.approx(gini([90, 10] + [0] * 8))
    assert skewed["top_items"] == 1 and skewed["top_share"] == pytest.approx(0.9)


def test_catalogue_coverage_from_slates_lists_and_counts():
    assert catalogue_coverage([["a", "b"], ["b", "c"]], 10) == {
        "coverage": 0.3,
        "distinct_items": 3,
        "catalogue_size": 10,
        "recommendations": 4,
    }
    assert catalogue_coverage(["a", "a", None], 4)["coverage"] == 0.25
    assert catalogue_coverage({"a": 3, "b": 0}, 2)["distinct_items"] == 1
    with pytest.raises(ValueError, match="catalogue of 1"):
        catalogue_coverage(["a", "b"], 1)
    with pytest.raises(ValueError, match="positive whole number"):
        catalogue_coverage(["a"], 0)


def test_item_drift_matches_drift_chi_squared_and_finds_a_new_favourite():
    rng = np.random.default_rng(1)
    shares = np.ones(100) / 100
    ref = {f"i{k}": int(n) for k, n in enumerate(rng.multinomial(5000, shares))}
    same = {f"i{k}": int(n) for k, n in enumerate(rng.multinomial(5000, shares))}
    result = item_drift(ref, same)
    expected = drift.chi_squared(
        {"kind": "categorical", "categories": ref}, {"kind": "categorical", "categories": same}
    )
    assert result.statistic == pytest.approx(expected.statistic) and result.p_value == pytest.approx(
        expected.p_value
    )
    assert result.p_value > 0.05

    moved = dict(same, newcomer=1500)
    shifted = item_drift(ref, moved)
    assert shifted.p_value < 1e-50 and shifted.effect_size > 0.1
    assert shifted.details["new_items"] == 1
    assert shifted.details["new_item_share"] == pytest.approx(1500 / 6500)
    # Counting each slate of 10 as one observation is more cautious, never less.
    assert shifted.p_value < item_drift(ref, moved, slate_size=10).p_value < 0.05
