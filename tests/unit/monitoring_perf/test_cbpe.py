"""CBPE: estimates from probabilities alone agree with the realised performance when the model is
calibrated, and the reference tells us when it is not."""

import numpy as np
import pytest
from sklearn import metrics as skm

from apps.monitoring.stats.cbpe import (
    calibration_check,
    estimate_binary,
    estimate_vs_realised,
    expected_confusion,
    expected_roc_auc,
    simulated_roc_auc,
)
from apps.monitoring.stats.performance import classification_performance


def calibrated(n, seed, a=2.0, b=3.0):
    """Probabilities from Beta(a, b) and labels drawn as Bernoulli(p): calibrated by construction."""
    rng = np.random.default_rng(seed)
    p = rng.beta(a, b, size=n)
    return (rng.random(n) < p).astype(int), p


def realised(y, p, threshold=0.5):
    pred = p >= threshold
    return {
        "accuracy": skm.accuracy_score(y, pred),
        "precision": skm.precision_score(y, pred),
        "recall": skm.recall_score(y, pred),
        "f1": skm.f1_score(y, pred),
        "roc_auc": skm.roc_auc_score(y, p),
    }


def test_expected_auc_is_the_area_under_expected_tpr_and_fpr_over_thresholds():
    _, p = calibrated(400, 1)
    tpr, fpr = [0.0], [0.0]
    for t in np.unique(p)[::-1]:  # NannyML's construction, threshold by threshold
        predicted = p >= t
        tpr.append(p[predicted].sum() / p.sum())
        fpr.append((1 - p[predicted]).sum() / (1 - p).sum())
    assert expected_roc_auc(p) == pytest.approx(skm.auc(fpr, tpr))


def test_expected_confusion_and_accuracy():
    p = np.array([0.9, 0.8, 0.3, 0.1])
    cm = expected_confusion(p)
    assert cm == pytest.approx({"tp": 1.7, "fp": 0.3, "fn": 0.4, "tn": 1.6})
    est = estimate_binary(p, n_sim=50)
    assert est["accuracy"].value == pytest.approx(np.mean(np.maximum(p, 1 - p)))
    assert est["precision"].value == pytest.approx(1.7 / 2.0)
    assert est["recall"].value == pytest.approx(1.7 / 2.1)


def test_simulated_auc_equals_sklearn():
    from scipy import stats

    _, p = calibrated(300, 2)
    p = np.round(p, 2)  # ties
    labels = np.random.default_rng(3).random((4, 300)) < p
    expected = [skm.roc_auc_score(row, p) for row in labels]
    assert simulated_roc_auc(labels.astype(float), stats.rankdata(p)) == pytest.approx(expected)


def test_estimates_agree_with_realised_performance_when_calibrated():
    reps = 60
    inside = dict.fromkeys(("accuracy", "precision", "recall", "f1", "roc_auc"), 0)
    for seed in range(reps):
        y, p = calibrated(1000, seed)
        estimate = estimate_binary(p, seed=seed)
        for name, value in realised(y, p).items():
            inside[name] += estimate[name].low <= value <= estimate[name].high
    for name, hits in inside.items():
        assert hits / reps >= 0.90, (name, hits)


def test_estimates_miss_when_probabilities_are_overconfident():
    # The model says 0.95 where the truth is 0.7: accuracy is overestimated, and noticeably.
    rng = np.random.default_rng(4)
    truth = rng.choice([0.3, 0.7], size=3000)
    y = rng.random(3000) < truth
    said = np.where(truth > 0.5, 0.95, 0.05)
    estimate = estimate_binary(said)
    real = classification_performance(y, said >= 0.5, said, metrics=["accuracy", "roc_auc"])
    rows = {row["metric"]: row for row in estimate_vs_realised(estimate, real)}
    assert rows["accuracy"]["inside"] is False
    assert rows["accuracy"]["estimated"] == pytest.approx(0.95)
    assert rows["accuracy"]["realised"] == pytest.approx(0.7, abs=0.03)
    assert set(rows) == {"accuracy", "roc_auc"}


def test_calibration_check_trusts_a_calibrated_reference():
    y, p = calibrated(2000, 5)
    check = calibration_check(y, p)
    assert check["trustworthy"] is True
    assert check["ece"] < 0.05 and check["n"] == 2000
    assert "calibrated on the reference" in check["reason"]


def test_calibration_check_rejects_a_miscalibrated_reference():
    y, p = calibrated(2000, 6)
    check = calibration_check(y, p**3)  # systematically too low
    assert check["trustworthy"] is False
    assert "poorly calibrated" in check["reason"] and check["ece"] > 0.05
    assert check["ece"] > check["null_ece_95"]
    assert check["reliability"][0]["count"] > 0


def test_calibration_check_wants_enough_reference_rows():
    y, p = calibrated(200, 7)
    check = calibration_check(y, p)
    assert check["trustworthy"] is False and "too few reference rows" in check["reason"]
    y, p = np.r_[np.zeros(990), np.ones(10)], np.r_[np.full(990, 0.01), np.full(10, 0.99)]
    assert "10 of the rarer class" in calibration_check(y, p)["reason"]


def test_large_windows_use_a_scaled_subsample():
    _, p = calibrated(200_000, 8)
    est = estimate_binary(p, n_sim=50, max_sim_rows=20_000)
    acc = est["accuracy"]
    assert "subsample" in acc.method
    # The realised accuracy's standard deviation is sqrt(Σ q(1−q))/n with q the chance to be right.
    q = np.maximum(p, 1 - p)
    sd = np.sqrt(np.sum(q * (1 - q))) / len(p)
    assert acc.high - acc.low == pytest.approx(2 * 1.96 * sd, rel=0.35)


def test_awkward_inputs():
    est = estimate_binary(np.full(50, 0.2))
    assert est["precision"].value is None and "no row is predicted positive" in est["precision"].reason
    assert est["accuracy"].value == pytest.approx(0.8)
    assert estimate_binary([np.nan])["accuracy"].reason == "no predictions with a probability"
    with pytest.raises(ValueError, match="outside \\[0, 1\\]"):
        estimate_binary([0.2, 1.3])
    with pytest.raises(ValueError, match="0/1 outcomes"):
        calibration_check([0, 2], [0.1, 0.2])
