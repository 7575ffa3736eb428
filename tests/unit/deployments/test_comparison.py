"""Agreement between a shadow's answers and the answers the endpoint gave."""

import pytest

from apps.deployments.comparison import agreement


def test_agreement_counts_equal_predictions_and_averages_probability_shifts():
    pairs = [
        ("good", "good", [0.2, 0.8], [0.3, 0.7]),
        ("good", "bad", [0.4, 0.6], [0.6, 0.4]),
        ("bad", "bad", None, [0.9, 0.1]),  # no probabilities on one side: not in the shift
        (1, 1, [0.5, 0.5], [0.5, 0.5]),
    ]
    result = agreement(pairs)
    assert (result.compared, result.agreeing) == (4, 3)
    assert result.share == pytest.approx(0.75)
    assert result.mean_probability_shift == pytest.approx((0.1 + 0.2 + 0.0) / 3)


def test_nothing_to_compare():
    result = agreement([])
    assert (result.compared, result.share, result.mean_probability_shift) == (0, 0.0, None)
