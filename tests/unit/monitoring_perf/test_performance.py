"""Realised performance: values equal scikit-learn's, intervals cover on simulations, awkward
windows (one class, missing values, a handful of rows) give reasons instead of exceptions."""

import warnings

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm

from apps.monitoring.stats.performance import (
    Metric,
    classification_performance,
    expected_calibration_error,
    ranking_performance,
    regression_performance,
    roc_auc_by_counts,
)


def binormal(n, seed, shift=1.0):
    """Scores N(shift, 1) for positives and N(0, 1) for negatives: true AUC = Φ(shift/√2)."""
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.4
    return y.astype(int), rng.normal(size=n) + shift * y


def calibrated(n, seed):
    rng = np.random.default_rng(seed)
    p = rng.beta(2, 3, size=n)
    return (rng.random(n) < p).astype(int), p


def test_binary_values_equal_sklearn():
    y, p = calibrated(800, 1)
    pred = (p >= 0.5).astype(int)
    got = classification_performance(y, pred, p, n_boot=20)
    assert got["accuracy"].value == pytest.approx(skm.accuracy_score(y, pred))
    assert got["precision"].value == pytest.approx(skm.precision_score(y, pred))
    assert got["recall"].value == pytest.approx(skm.recall_score(y, pred))
    assert got["f1"].value == pytest.approx(skm.f1_score(y, pred))
    assert got["roc_auc"].value == pytest.approx(skm.roc_auc_score(y, p))
    assert got["log_loss"].value == pytest.approx(skm.log_loss(y, p))
    assert got["brier"].value == pytest.approx(skm.brier_score_loss(y, p))
    for name, metric in got.items():
        assert metric.low <= metric.value <= metric.high
        assert metric.n == {"precision": pred.sum(), "recall": y.sum()}.get(name, 800)  # Wilson denominators


def test_string_labels_and_two_column_probabilities():
    y, p = calibrated(300, 2)
    names = np.array(["good", "bad"])  # outcome 1 is "good"; columns follow the sorted labels
    y_s, pred_s = names[1 - y], names[1 - (p >= 0.5).astype(int)]
    got = classification_performance(y_s, pred_s, np.c_[1 - p, p], positive="good", n_boot=20)
    assert got["precision"].value == pytest.approx(skm.precision_score(y_s, pred_s, pos_label="good"))
    assert got["roc_auc"].value == pytest.approx(skm.roc_auc_score(y, p))


def test_multiclass_values_equal_sklearn_macro_and_one_vs_rest():
    rng = np.random.default_rng(3)
    proba = rng.dirichlet([2, 2, 2], size=500)
    labels = ["a", "b", "c"]
    y = np.array([rng.choice(labels, p=row) for row in proba])
    pred = np.array(labels)[proba.argmax(axis=1)]
    got = classification_performance(y, pred, proba, n_boot=20)
    assert got["precision"].value == pytest.approx(skm.precision_score(y, pred, average="macro"))
    assert got["recall"].value == pytest.approx(skm.recall_score(y, pred, average="macro"))
    assert got["f1"].value == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert got["roc_auc"].value == pytest.approx(skm.roc_auc_score(y, proba, multi_class="ovr"))
    assert got["log_loss"].value == pytest.approx(skm.log_loss(y, proba, labels=labels))
    assert got["precision"].low < got["precision"].value < got["precision"].high


def test_accuracy_interval_is_wilsons():
    y = np.array([1] * 37 + [0] * 13)
    pred = np.ones(50, dtype=int)
    acc = classification_performance(y, pred, metrics=["accuracy"])["accuracy"]
    z, phat, n = stats.norm.ppf(0.975), 37 / 50, 50
    centre = (phat + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n))
    assert (acc.low, acc.high) == pytest.approx((centre - half, centre + half))
    assert acc.method == "wilson"


def test_bootstrap_auc_interval_covers_the_true_auc_about_95_percent_of_the_time():
    true_auc = stats.norm.cdf(1 / np.sqrt(2))
    reps, covered = 200, 0
    for seed in range(reps):
        y, s = binormal(300, seed)
        auc = classification_performance(y, s >= 0.5, s, metrics=["roc_auc"], seed=seed)["roc_auc"]
        covered += auc.low <= true_auc <= auc.high
    # Nominal 0.95; a percentile bootstrap at 300 rows is a little short of it. Two hundred
    # repetitions put the estimate within about ±0.03 of the real coverage.
    assert 0.90 <= covered / reps <= 0.99


def test_vectorised_bootstrap_auc_equals_sklearn_with_weights():
    rng = np.random.default_rng(9)
    y = rng.random(200) < 0.3
    s = np.round(rng.normal(size=200) + y, 1)  # rounded: plenty of ties
    counts = rng.multinomial(200, np.full(200, 1 / 200), size=5)
    expected = [skm.roc_auc_score(y, s, sample_weight=w) for w in counts]
    assert roc_auc_by_counts(y, s, counts) == pytest.approx(expected)


def test_subsampled_bootstrap_width_matches_hanley_mcneil():
    y, s = binormal(60_000, 7)
    auc = classification_performance(y, s >= 0.5, s, metrics=["roc_auc"], n_boot=100, max_boot_rows=5_000)
    auc = auc["roc_auc"]
    a, n1, n0 = auc.value, y.sum(), len(y) - y.sum()
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    se = np.sqrt((a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n0 - 1) * (q2 - a * a)) / (n1 * n0))
    assert "subsample" in auc.method
    assert (auc.high - auc.low) == pytest.approx(2 * 1.96 * se, rel=0.3)
    assert auc.low < a < auc.high


def test_single_class_window_reports_a_reason_for_auc_and_keeps_the_rest():
    y = np.ones(40, dtype=int)
    p = np.linspace(0.3, 0.9, 40)
    got = classification_performance(y, (p >= 0.5).astype(int), p, n_boot=20)
    assert got["roc_auc"].value is None and "two classes" in got["roc_auc"].reason
    assert got["accuracy"].value == pytest.approx(np.mean(p >= 0.5))
    assert got["log_loss"].value == pytest.approx(skm.log_loss(y, p, labels=[0, 1]))


def test_missing_values_are_left_out_and_counted():
    y = [1, 0, None, 1, 0, np.nan, 1, 0, 1, 0, 1, 1]
    pred = [1, 0, 1, None, 0, 0, 1, 1, 1, 0, 0, 1]
    score = [0.9, 0.1, 0.8, 0.7, np.nan, 0.5, 0.7, 0.6, 0.8, 0.2, 0.4, 0.9]
    got = classification_performance(y, pred, score, n_boot=20)
    assert got["accuracy"].n == 9 and got["accuracy"].details["rows_left_out"] == 3
    assert got["roc_auc"].n == 8 and got["roc_auc"].details["rows_without_score"] == 1


def test_tiny_window_gives_values_without_intervals():
    got = classification_performance([1, 0, 1], [1, 0, 0], [0.8, 0.3, 0.4])
    assert got["f1"].value == pytest.approx(skm.f1_score([1, 0, 1], [1, 0, 0]))
    assert got["f1"].low is None and "too few" in got["f1"].reason
    assert got["accuracy"].low is not None  # Wilson is fine with three rows


def test_no_positive_predictions_is_a_reason_not_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = classification_performance([1, 0, 1, 0] * 5, [0] * 20, n_boot=20)
    assert got["precision"].value is None and "no predictions" in got["precision"].reason
    assert got["f1"].value == 0.0  # no true positives among ten positive outcomes
    assert classification_performance([0] * 20, [0] * 20, n_boot=20)["f1"].value is None
    assert got["roc_auc"].reason == "no scores were given"


def test_scores_that_are_not_probabilities_still_give_auc():
    y, s = binormal(200, 4)
    got = classification_performance(y, s > 0.5, s, n_boot=20)
    assert got["roc_auc"].value == pytest.approx(skm.roc_auc_score(y, s))
    assert "not probabilities" in got["log_loss"].reason


def test_bad_input_names_the_problem():
    with pytest.raises(ValueError, match="same length"):
        classification_performance([1, 0], [1, 0, 1])
    with pytest.raises(ValueError, match="unknown metric"):
        classification_performance([1, 0], [1, 0], metrics=["auc"])
    with pytest.raises(ValueError, match=r"\(n, 3\)"):
        classification_performance(["a", "b", "c"], ["a", "b", "c"], [0.1, 0.2, 0.3])


def test_calibration_error_and_reliability_bins():
    ece, bins = expected_calibration_error(np.ones(10), np.full(10, 0.8))
    assert ece == pytest.approx(0.2)
    assert bins == [
        {
            "low": 0.8,
            "high": pytest.approx(0.9),
            "count": 10,
            "mean_probability": pytest.approx(0.8),
            "observed_rate": 1.0,
        }
    ]
    y, p = calibrated(50_000, 5)
    assert expected_calibration_error(y, p)[0] < 0.015
    got = classification_performance(y[:2000], p[:2000] >= 0.5, p[:2000], metrics=["calibration"], n_boot=20)
    assert len(got["calibration"].details["reliability"]) == 10


def test_regression_values_equal_sklearn_and_mape_leaves_out_zeros():
    rng = np.random.default_rng(6)
    y = rng.normal(10, 3, size=400)
    y[:5] = 0.0
    pred = y + rng.normal(0, 1, size=400)
    got = regression_performance(y, pred, n_boot=50)
    assert got["rmse"].value == pytest.approx(skm.root_mean_squared_error(y, pred))
    assert got["mae"].value == pytest.approx(skm.mean_absolute_error(y, pred))
    assert got["r2"].value == pytest.approx(skm.r2_score(y, pred))
    assert got["mape"].value == pytest.approx(skm.mean_absolute_percentage_error(y[5:], pred[5:]))
    assert got["mape"].details == {"rows_with_true_zero_left_out": 5}
    assert got["rmse"].low < 1.0 < got["rmse"].high  # the noise's true standard deviation
    assert all(isinstance(m, Metric) for m in got.values())


def test_regression_without_usable_rows():
    got = regression_performance([None, "x"], [1.0, 2.0])
    assert got["rmse"].value is None and "no rows" in got["rmse"].reason
    assert regression_performance([0.0, 0.0], [1.0, 2.0])["mape"].reason.startswith("MAPE is undefined")


def test_ndcg_equals_sklearn_on_equal_length_queries():
    rng = np.random.default_rng(8)
    relevance = rng.integers(0, 4, size=(60, 15))
    scores = relevance + rng.normal(0, 1.5, size=(60, 15))
    got = ranking_performance(relevance.tolist(), scores.tolist(), k=5, n_boot=50)["ndcg@5"]
    assert got.value == pytest.approx(skm.ndcg_score(relevance, scores, k=5))
    assert got.low < got.value < got.high and got.n == 60


def test_ndcg_with_ragged_and_single_item_queries():
    got = ranking_performance([[3, 0, 1], [2], [0, 0], []], [[0.2, 0.9, 0.5], [0.1], [0.3, 0.2], []], k=3)
    first = skm.ndcg_score([[3, 0, 1]], [[0.2, 0.9, 0.5]], k=3)
    ndcg = got["ndcg@3"]
    assert ndcg.value == pytest.approx((first + 1.0 + 0.0) / 3)
    assert ndcg.details == {"queries_left_out": 1} and "3 queries are too few" in ndcg.reason
