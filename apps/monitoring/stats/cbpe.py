"""Performance before outcomes arrive: confidence-based performance estimation (CBPE).

A binary classifier whose probabilities are calibrated tells us how often it is right: a row
scored p is positive with probability p. So, without a single label, each row contributes an
expected share to the confusion matrix (as NannyML's CBPE does): a row predicted positive adds p
to TP and 1 − p to FP, a row predicted negative adds p to FN and 1 − p to TN. Accuracy,
precision, recall and F1 follow from the expected matrix. ROC AUC comes from expected TPR/FPR
at every threshold, which is exactly the weighted ROC curve in which every row appears once as a
positive with weight p and once as a negative with weight 1 − p (so sklearn computes it).

Intervals are where the *realised* metric should fall once labels arrive, if the probabilities
are calibrated: labels are simulated as Bernoulli(p) ``n_sim`` times and each metric recomputed;
the interval is the central ``confidence`` share of the simulated values. A realised value outside
it means the model's probabilities no longer describe the world (concept drift, or calibration
that did not hold). Above ``max_sim_rows`` rows the simulation runs on a fixed random subsample
and its spread is scaled by sqrt(m/n).

The estimate is only as good as the calibration: ``calibration_check`` judges it on the
reference data (where labels are known) and says when the estimate should not be trusted.
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from sklearn import metrics as skm

from apps.monitoring.stats.performance import Metric, expected_calibration_error

# Calibration is judged untrustworthy when the reference ECE exceeds this bound AND exceeds what a
# perfectly calibrated model would show on as many rows (the 95th percentile of ECE when labels are
# drawn from the probabilities themselves). The second condition keeps small references from being
# condemned for sampling noise: at 1,000 rows a calibrated model's ECE is often 0.02–0.04.
MAX_ECE = 0.05
# Fewer reference rows (or fewer of the rarer class) than this and calibration cannot be judged.
MIN_REFERENCE_ROWS = 500
MIN_REFERENCE_PER_CLASS = 30
NULL_SIMULATIONS = 200
MAX_SIM_ROWS = 50_000
ESTIMATED_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")


def _probabilities(proba, name: str) -> np.ndarray:
    p = np.asarray(proba, dtype=float).ravel()
    p = p[~np.isnan(p)]
    bad = int(((p < 0) | (p > 1)).sum())
    if bad:
        raise ValueError(f"{name}: {bad} values are outside [0, 1]; CBPE needs probabilities")
    return p


def calibration_check(
    y_true_ref,
    proba_ref,
    *,
    max_ece: float = MAX_ECE,
    min_rows: int = MIN_REFERENCE_ROWS,
    min_per_class: int = MIN_REFERENCE_PER_CLASS,
    seed: int = 0,
) -> dict:
    """Is the model calibrated enough on its reference data for CBPE to be trusted?

    ``y_true_ref``: 0/1 (or boolean) outcomes; ``proba_ref``: probability of outcome 1. Returns
    ``{"ece", "null_ece_95", "n", "positives", "trustworthy", "reason", "reliability"}``."""
    y = np.asarray(y_true_ref, dtype=float).ravel()
    p = np.asarray(proba_ref, dtype=float).ravel()
    if y.shape != p.shape:
        raise ValueError(f"y_true_ref has {y.size} rows but proba_ref has {p.size}")
    keep = ~(np.isnan(y) | np.isnan(p))
    y, p = y[keep], _probabilities(p[keep], "proba_ref")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("y_true_ref must hold 0/1 outcomes (1 = the class proba_ref is the probability of)")
    n, positives = len(y), int(y.sum())
    result = {"n": n, "positives": positives, "ece": None, "null_ece_95": None, "reliability": []}
    if n:
        result["ece"], result["reliability"] = expected_calibration_error(y, p)
    rarer = min(positives, n - positives)
    if n < min_rows or rarer < min_per_class:
        reason = (
            f"too few reference rows to judge calibration: {n} rows, {rarer} of the rarer class "
            f"(at least {min_rows} rows and {min_per_class} of each class are needed)"
        )
        return {**result, "trustworthy": False, "reason": reason}

    # ECE of a perfectly calibrated model on these very probabilities: labels drawn from them.
    rng = np.random.default_rng(seed)
    null = [expected_calibration_error(rng.random(n) < p, p)[0] for _ in range(NULL_SIMULATIONS)]
    null_95 = float(np.quantile(null, 0.95))
    result["null_ece_95"] = null_95
    ece = result["ece"]
    if ece > max_ece and ece > null_95:
        reason = (
            f"poorly calibrated on the reference: expected calibration error {ece:.3f} is above the "
            f"bound {max_ece} and above the {null_95:.3f} a calibrated model would reach on {n} rows"
        )
        return {**result, "trustworthy": False, "reason": reason}
    reason = f"calibrated on the reference: expected calibration error {ece:.3f} (bound {max_ece})"
    return {**result, "trustworthy": True, "reason": reason}


def expected_confusion(proba, threshold: float = 0.5) -> dict[str, float]:
    """Expected TP, FP, FN, TN when rows scored at or above ``threshold`` are predicted positive."""
    p = _probabilities(proba, "proba")
    predicted = p >= threshold
    return {
        "tp": float(p[predicted].sum()),
        "fp": float((1 - p[predicted]).sum()),
        "fn": float(p[~predicted].sum()),
        "tn": float((1 - p[~predicted]).sum()),
    }


def _ratios(tp, fp, fn, tn):
    """Accuracy, precision, recall, F1 from (arrays of) confusion counts; NaN where undefined."""
    with np.errstate(invalid="ignore", divide="ignore"):
        n = tp + fp + fn + tn
        return {
            "accuracy": (tp + tn) / n,
            "precision": tp / (tp + fp),
            "recall": tp / (tp + fn),
            "f1": 2 * tp / (2 * tp + fp + fn),
        }


def expected_roc_auc(proba) -> float:
    """ROC AUC of the expected ROC curve (expected TPR against expected FPR over all thresholds)."""
    p = _probabilities(proba, "proba")
    outcome = np.r_[np.ones(len(p)), np.zeros(len(p))]
    return float(skm.roc_auc_score(outcome, np.r_[p, p], sample_weight=np.r_[p, 1 - p]))


def simulated_roc_auc(labels: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """ROC AUC of each simulated label vector (rows of ``labels``) against fixed scores, from the
    Mann–Whitney identity AUC = (rank sum of positives − n₁(n₁+1)/2) / (n₁·n₀) with mid-ranks
    for ties; equal to sklearn's roc_auc_score and O(n) per simulation instead of a sort."""
    n1 = labels.sum(axis=1)
    n0 = labels.shape[1] - n1
    with np.errstate(invalid="ignore", divide="ignore"):
        return (labels @ ranks - n1 * (n1 + 1) / 2) / (n1 * n0)


def estimate_binary(
    proba,
    threshold: float = 0.5,
    *,
    confidence: float = 0.95,
    n_sim: int = 200,
    seed: int = 0,
    max_sim_rows: int = MAX_SIM_ROWS,
) -> dict[str, Metric]:
    """Expected accuracy, precision, recall, F1 and ROC AUC from positive-class probabilities
    alone, each with the interval the realised value should fall in (see the module docstring)."""
    p = _probabilities(proba, "proba")
    n = len(p)
    if n == 0:
        return {
            m: Metric(None, None, None, 0, "cbpe", "no predictions with a probability")
            for m in ESTIMATED_METRICS
        }
    cm = expected_confusion(p, threshold)
    counts = (np.float64(cm[k]) for k in ("tp", "fp", "fn", "tn"))
    values = {k: float(v) for k, v in _ratios(*counts).items()}
    values["roc_auc"] = expected_roc_auc(p)

    rng = np.random.default_rng(seed)
    sample, scale, method = p, 1.0, "cbpe, simulated labels"
    if n > max_sim_rows:
        sample = p[rng.choice(n, size=max_sim_rows, replace=False)]
        scale = float(np.sqrt(max_sim_rows / n))
        method = f"cbpe, simulated labels on a {max_sim_rows}-row subsample, scaled by sqrt(m/n)"
    predicted = sample >= threshold
    ranks = stats.rankdata(sample)
    draws: dict[str, list[np.ndarray]] = {m: [] for m in ESTIMATED_METRICS}
    chunk = max(1, 5_000_000 // len(sample))  # bounds memory: at most ~5M simulated labels at once
    for start in range(0, n_sim, chunk):
        labels = rng.random((min(chunk, n_sim - start), len(sample))) < sample
        tp = (labels & predicted).sum(axis=1)
        fp = predicted.sum() - tp
        fn = labels.sum(axis=1) - tp
        tn = len(sample) - tp - fp - fn
        for name, value in _ratios(tp, fp, fn, tn).items():
            draws[name].append(value)
        draws["roc_auc"].append(simulated_roc_auc(labels.astype(float), ranks))

    alpha = 1 - confidence
    out: dict[str, Metric] = {}
    for name in ESTIMATED_METRICS:
        got = np.concatenate(draws[name])
        got = got[np.isfinite(got)]
        value = values[name] if np.isfinite(values[name]) else None
        if value is None:
            reason = {
                "precision": f"precision is undefined: no row is predicted positive at threshold {threshold}",
                "recall": "recall is undefined: every probability is 0, so no positive is expected",
            }.get(name, f"{name} is undefined: no positive is predicted or expected")
            out[name] = Metric(None, None, None, n, method, reason)
            continue
        if len(got) < n_sim / 2:
            out[name] = Metric(
                value, None, None, n, method, f"{name} is undefined in most simulated outcomes"
            )
            continue
        low, high = np.quantile(got, [alpha / 2, 1 - alpha / 2])
        if scale != 1.0:
            centre = float(np.median(got))
            low, high = max(0.0, value + (low - centre) * scale), min(1.0, value + (high - centre) * scale)
        out[name] = Metric(value, float(low), float(high), n, method)
    return out


def estimate_vs_realised(estimated: dict[str, Metric], realised: dict[str, Metric]) -> list[dict]:
    """Side by side, per metric both have: the estimate, its interval, the realised value and
    whether the realised value lies inside the estimate's interval (None when either is missing)."""
    rows = []
    for name, est in estimated.items():
        real = realised.get(name)
        if real is None:
            continue
        inside = None
        if est.low is not None and est.high is not None and real.value is not None:
            inside = bool(est.low <= real.value <= est.high)
        rows.append(
            {"metric": name, "estimated": est.value, "low": est.low, "high": est.high,
             "realised": real.value, "realised_low": real.low, "realised_high": real.high, "inside": inside}
        )  # fmt: skip
    return rows
