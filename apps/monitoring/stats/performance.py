"""Realised performance once outcomes arrive, each metric with a confidence interval.

Values come from scikit-learn's metrics. Intervals:

- accuracy, and precision/recall of a binary classifier, are proportions: Wilson score intervals
  (``scipy.stats.binomtest(...).proportion_ci``), which keep their coverage near 0 and 1 and for
  small samples where the normal interval does not. Precision and recall are conditional on their
  denominators (predicted positives, actual positives).
- everything else (ROC AUC, F1, macro averages, log loss, Brier score, calibration error, RMSE,
  MAE, MAPE, R², NDCG): percentile bootstrap over rows (over queries for NDCG), ``n_boot``
  resamples from a seeded generator, so the same window always gives the same interval. Above
  ``max_boot_rows`` rows the resamples are drawn from a fixed random subsample of that size and
  their spread around the subsample's value is scaled by sqrt(m/n): every metric here is
  root-n consistent, and this keeps a check over a million outcomes as cheap as one over 20,000.

Nothing here raises on awkward data: a window with one class, no positive predictions, missing
values or a handful of rows gives a ``Metric`` whose value or interval is None and whose
``reason`` says why. Inputs that cannot be meant (arrays of different lengths, an unknown metric
name) raise ``ValueError`` naming the problem.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy import stats
from sklearn import metrics as skm
from sklearn.exceptions import UndefinedMetricWarning

# Fewer rows than this and an interval is not worth drawing (the value is still reported).
MIN_ROWS_FOR_INTERVAL = 10
# A bootstrap interval needs most resamples to give a value (AUC needs both classes in each).
MIN_VALID_RESAMPLES = 0.5
MAX_BOOT_ROWS = 20_000
RELIABILITY_BINS = 10

CLASSIFICATION_METRICS = (
    "accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "log_loss",
    "brier",
    "calibration",
)
REGRESSION_METRICS = ("rmse", "mae", "mape", "r2")


@dataclass(frozen=True)
class Metric:
    """One metric over a window: value with a ``confidence`` interval [low, high] from ``n`` rows.

    ``method`` names how the interval was drawn; ``reason`` explains a missing value or interval;
    ``details`` holds extras (reliability bins for calibration, rows left out)."""

    value: float | None
    low: float | None
    high: float | None
    n: int
    method: str = ""
    reason: str | None = None
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def _float_or_none(x) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if np.isfinite(x) else None


def wilson_metric(successes: int, trials: int, *, confidence: float = 0.95, what: str = "rows") -> Metric:
    """A proportion with its Wilson score interval; None with a reason when there are no trials."""
    if trials == 0:
        return Metric(None, None, None, 0, "wilson", f"no {what} to compute it on")
    ci = stats.binomtest(int(successes), int(trials)).proportion_ci(confidence, method="wilson")
    return Metric(successes / trials, float(ci.low), float(ci.high), int(trials), "wilson")


def bootstrap_metrics(
    statistics: dict[str, Callable[..., float]],
    arrays: Sequence[np.ndarray],
    values: dict[str, float | None],
    *,
    confidence: float = 0.95,
    n_boot: int = 200,
    seed: int = 0,
    max_rows: int = MAX_BOOT_ROWS,
    bounds: dict[str, tuple[float, float]] | None = None,
    unit: str = "rows",
    by_counts: dict[str, Callable[[Sequence[np.ndarray], np.ndarray], np.ndarray]] | None = None,
) -> dict[str, Metric]:
    """Percentile-bootstrap intervals for several statistics over the same resamples of rows.

    ``statistics[name](*resampled_arrays)`` computes one metric; ``values[name]`` is its value on
    all rows (None: no interval either). A resample whose statistic is undefined (NaN, or a
    ValueError such as a single class for AUC) is skipped; with fewer than half valid there is
    no interval. ``bounds`` clamps scaled intervals to a metric's range. ``by_counts[name]``, when
    given, computes that metric for a whole batch of resamples at once from the arrays and a
    (resamples × rows) matrix of how often each row was drawn (see ``roc_auc_by_counts``)."""
    n = len(arrays[0])
    bounds = bounds or {}
    out: dict[str, Metric] = {}
    if n < MIN_ROWS_FOR_INTERVAL:
        for name in statistics:
            reason = f"{n} {unit} are too few for an interval (at least {MIN_ROWS_FOR_INTERVAL})"
            out[name] = Metric(values.get(name), None, None, n, "bootstrap", reason)
        return out

    rng = np.random.default_rng(seed)
    base = list(arrays)
    scale = 1.0
    method = "bootstrap"
    if n > max_rows:
        keep = rng.choice(n, size=max_rows, replace=False)
        base = [a[keep] for a in arrays]
        scale = float(np.sqrt(max_rows / n))
        method = f"bootstrap on a {max_rows}-row subsample, scaled by sqrt(m/n)"
    m = len(base[0])
    names = [name for name in statistics if values.get(name) is not None]
    draws: dict[str, list[float]] = {name: [] for name in names}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        centre = {name: _safe(statistics[name], base) for name in names} if scale != 1.0 else {}
        batch = max(1, min(n_boot, 2_000_000 // m))  # at most ~2M drawn indices in memory at once
        for start in range(0, n_boot, batch):
            idx = rng.integers(0, m, (min(batch, n_boot - start), m))
            if by_counts:
                offsets = (np.arange(len(idx)) * m)[:, None]
                counts = np.bincount((idx + offsets).ravel(), minlength=len(idx) * m).reshape(len(idx), m)
            for name in names:
                if by_counts and name in by_counts:
                    got = np.asarray(by_counts[name](base, counts), dtype=float)
                    draws[name].extend(got[np.isfinite(got)].tolist())
                    continue
                for row in idx:
                    value = _safe(statistics[name], [a[row] for a in base])
                    if value is not None:
                        draws[name].append(value)

    alpha = 1 - confidence
    for name in statistics:
        value = values.get(name)
        if value is None:
            continue  # the caller reports why the value itself is missing
        got = np.asarray(draws[name])
        if len(got) < MIN_VALID_RESAMPLES * n_boot:
            reason = f"only {len(got)} of {n_boot} resamples gave a value, too few for an interval"
            out[name] = Metric(value, None, None, n, method, reason)
            continue
        low, high = np.quantile(got, [alpha / 2, 1 - alpha / 2])
        if scale != 1.0:
            c = centre[name] if centre[name] is not None else value
            low, high = value + (low - c) * scale, value + (high - c) * scale
            lo_bound, hi_bound = bounds.get(name, (-np.inf, np.inf))
            low, high = max(low, lo_bound), min(high, hi_bound)
        out[name] = Metric(value, float(low), float(high), n, method)
    return out


def roc_auc_by_counts(positive: np.ndarray, score: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """ROC AUC of each row of ``counts`` (how often each item was drawn into a resample).

    The same number sklearn's ``roc_auc_score(positive, score, sample_weight=counts[b])`` gives
    (ties count one half), through the Mann–Whitney identity with one sort for all resamples
    instead of one per resample: AUC = Σ over tie groups of positives × (negatives below + half
    the negatives tied) / (positives × negatives). NaN where a resample lacks a class."""
    order = np.argsort(score, kind="stable")
    positive, score, counts = positive[order], score[order], counts[:, order]
    starts = np.flatnonzero(np.r_[True, score[1:] != score[:-1]])
    pos = np.add.reduceat(counts * positive, starts, axis=1)
    neg = np.add.reduceat(counts * ~positive, starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    u = (pos * (below + 0.5 * neg)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return u / (pos.sum(axis=1) * neg.sum(axis=1))


def _safe(fn: Callable[..., float], arrays: Sequence[np.ndarray]) -> float | None:
    try:
        return _float_or_none(fn(*arrays))
    except ValueError:
        return None


def _as_array(values) -> np.ndarray:
    if isinstance(values, pd.Series | pd.DataFrame):
        return values.to_numpy()
    return np.asarray(values, dtype=object if _has_strings(values) else None)


def _has_strings(values) -> bool:
    try:
        return any(isinstance(v, str) for v in values)
    except TypeError:
        return False


def _tidy(a: np.ndarray) -> np.ndarray:
    """Object arrays of numbers (left over from dropping None) back to numbers, which sklearn's
    target-type detection needs; strings stay as they are."""
    return pd.Series(a).infer_objects().to_numpy() if a.dtype == object else a


def _missing(a: np.ndarray) -> np.ndarray:
    if a.ndim == 1:
        return pd.isna(pd.Series(a)).to_numpy()
    return np.isnan(a.astype(float)).any(axis=1)


def _sorted_labels(values: Iterable) -> list:
    unique = list(pd.unique(pd.Series(list(values))))
    try:
        return sorted(unique)
    except TypeError:  # mixed types: order by their text
        return sorted(unique, key=str)


def _selected(metrics: Iterable[str] | None, known: tuple[str, ...]) -> list[str]:
    chosen = list(known if metrics is None else metrics)
    unknown = [m for m in chosen if m not in known]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; known: {list(known)}")
    return chosen


def classification_performance(
    y_true,
    y_pred,
    y_score=None,
    *,
    labels: Sequence | None = None,
    positive=None,
    confidence: float = 0.95,
    n_boot: int = 200,
    seed: int = 0,
    metrics: Iterable[str] | None = None,
    max_boot_rows: int = MAX_BOOT_ROWS,
) -> dict[str, Metric]:
    """Accuracy, precision, recall, F1, ROC AUC, log loss, Brier score and calibration (ECE).

    ``y_score``: for two classes the probability (or any score, for AUC only) of ``positive``, or
    an (n, 2) array; for more classes an (n, k) array of probabilities in ``labels`` order.
    ``labels`` default to the sorted classes seen in ``y_true`` and ``y_pred``; ``positive``
    defaults to 1 (True) for 0/1 labels, else the larger of the two labels. With more than
    two classes precision, recall and F1 are macro averages, ROC AUC is one-vs-rest and the
    calibration error is top-label. Rows without an outcome or a prediction are left out (and
    counted in ``details``); score metrics also leave out rows without a score."""
    chosen = _selected(metrics, CLASSIFICATION_METRICS)
    y_true, y_pred = _as_array(y_true), _as_array(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(
            f"y_true and y_pred must be 1-D of the same length, got shapes {y_true.shape} and {y_pred.shape}"
        )
    score = None
    if y_score is not None:
        score = np.asarray(y_score, dtype=float)
        if score.shape[0] != len(y_true) or score.ndim > 2:
            raise ValueError(f"y_score has shape {score.shape}; expected {len(y_true)} rows")

    keep = ~(_missing(y_true) | _missing(y_pred))
    dropped = int((~keep).sum())
    y_true, y_pred = _tidy(y_true[keep]), _tidy(y_pred[keep])
    score = score[keep] if score is not None else None
    n = len(y_true)
    labels = list(labels) if labels is not None else _sorted_labels(np.concatenate([y_true, y_pred]))
    details = {"rows_left_out": dropped} if dropped else {}
    if n == 0:
        reason = "no rows with both an outcome and a prediction"
        return {m: Metric(None, None, None, 0, "", reason, details) for m in chosen}

    binary = len(labels) <= 2
    if binary:
        if positive is None:
            zero_one = all(isinstance(label, int | float | np.number) and label in (0, 1) for label in labels)
            positive = 1 if zero_one else labels[-1]
        if score is not None and score.ndim == 2:
            if score.shape[1] != 2:
                raise ValueError(f"y_score has {score.shape[1]} columns for a binary classifier; expected 2")
            score = score[:, labels.index(positive) if positive in labels else 1]
    elif score is not None and (score.ndim != 2 or score.shape[1] != len(labels)):
        raise ValueError(
            f"y_score must be an (n, {len(labels)}) array of class probabilities in the order {labels}"
        )

    out: dict[str, Metric] = {}
    label_stats = _label_statistics(y_true, y_pred, labels, positive, binary)
    label_values = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        for name in ("accuracy", "precision", "recall", "f1"):
            if name in chosen:
                label_values[name] = _safe(label_stats[name], [y_true, y_pred])

    correct = int((y_true == y_pred).sum())
    if "accuracy" in chosen:
        out["accuracy"] = wilson_metric(correct, n, confidence=confidence)
        out["accuracy"] = _with_value(out["accuracy"], label_values["accuracy"])
    boot_label = {name: label_stats[name] for name in ("f1",) if name in chosen}
    if binary:
        is_pos_pred, is_pos_true = y_pred == positive, y_true == positive
        tp = int((is_pos_pred & is_pos_true).sum())
        if "precision" in chosen:
            out["precision"] = wilson_metric(
                tp, int(is_pos_pred.sum()), confidence=confidence, what=f"predictions of {positive!r}"
            )
        if "recall" in chosen:
            out["recall"] = wilson_metric(
                tp, int(is_pos_true.sum()), confidence=confidence, what=f"outcomes of {positive!r}"
            )
    else:
        boot_label.update({name: label_stats[name] for name in ("precision", "recall") if name in chosen})
    out.update(
        bootstrap_metrics(
            boot_label, [y_true, y_pred], label_values, confidence=confidence, n_boot=n_boot, seed=seed,
            max_rows=max_boot_rows, bounds={name: (0.0, 1.0) for name in boot_label},
        )
    )  # fmt: skip
    for name in boot_label:
        if name not in out:  # bootstrap_metrics leaves out what has no value
            why = (
                f"no {positive!r} among the predictions or the outcomes"
                if binary
                else "undefined on these rows"
            )
            out[name] = Metric(None, None, None, n, "bootstrap", f"{name} is undefined: {why}")

    score_names = [m for m in ("roc_auc", "log_loss", "brier", "calibration") if m in chosen]
    if score_names:
        out.update(
            _score_metrics(
                score_names, y_true, score, labels, positive, binary,
                confidence=confidence, n_boot=n_boot, seed=seed, max_rows=max_boot_rows,
            )
        )  # fmt: skip
    if details:
        out = {k: Metric(**{**v.to_dict(), "details": {**details, **v.details}}) for k, v in out.items()}
    return {name: out[name] for name in chosen}


def _with_value(metric: Metric, value: float | None) -> Metric:
    """The sklearn value in place of the hand count (they agree; the value is sklearn's)."""
    return metric if value is None else Metric(value, metric.low, metric.high, metric.n, metric.method)


def _label_statistics(y_true, y_pred, labels, positive, binary) -> dict[str, Callable]:
    kw = {"labels": labels, "zero_division": np.nan}
    kw.update({"pos_label": positive, "average": "binary"} if binary else {"average": "macro"})
    if binary:
        kw["labels"] = None
    return {
        "accuracy": lambda t, p: skm.accuracy_score(t, p),
        "precision": lambda t, p: skm.precision_score(t, p, **kw),
        "recall": lambda t, p: skm.recall_score(t, p, **kw),
        "f1": lambda t, p: skm.f1_score(t, p, **kw),
    }


def _score_metrics(names, y_true, score, labels, positive, binary, **boot) -> dict[str, Metric]:
    n_all = len(y_true)
    if score is None:
        return {m: Metric(None, None, None, n_all, "", "no scores were given") for m in names}
    keep = ~_missing(score)
    y_true, score = y_true[keep], score[keep]
    n = len(y_true)
    if n == 0:
        return {m: Metric(None, None, None, 0, "", "no rows with a score") for m in names}
    is_probability = bool(np.all((score >= 0) & (score <= 1)))
    present = set(pd.unique(pd.Series(y_true)))
    functions: dict[str, Callable] = {}
    out: dict[str, Metric] = {}
    if binary:
        functions = {
            "roc_auc": lambda t, s: skm.roc_auc_score(t == positive, s),
            "log_loss": lambda t, s: skm.log_loss(t == positive, s, labels=[False, True]),
            "brier": lambda t, s: skm.brier_score_loss(t == positive, s, pos_label=True),
            "calibration": lambda t, s: expected_calibration_error(t == positive, s)[0],
        }
    else:
        functions = {
            "roc_auc": lambda t, s: skm.roc_auc_score(t, s, multi_class="ovr", labels=labels),
            "log_loss": lambda t, s: skm.log_loss(t, s, labels=labels),
            "brier": lambda t, s: skm.brier_score_loss(t, s, labels=labels),
            "calibration": lambda t, s: _top_label_ece(t, s, labels)[0],
        }
    values: dict[str, float | None] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        for name in names:
            if name != "roc_auc" and not is_probability:
                out[name] = Metric(
                    None, None, None, n, "", "the scores are not probabilities (outside [0, 1])"
                )
            elif name == "roc_auc" and len(present) < 2:
                only = ", ".join(repr(v) for v in present)
                out[name] = Metric(
                    None, None, None, n, "", f"ROC AUC needs two classes; the outcomes are all {only}"
                )
            elif name == "roc_auc" and not binary and len(present) < len(labels):
                missing = [label for label in labels if label not in present]
                out[name] = Metric(
                    None, None, None, n, "", f"one-vs-rest ROC AUC needs every class; none of {missing}"
                )
            else:
                values[name] = _safe(functions[name], [y_true, score])
                if values[name] is None:
                    out[name] = Metric(None, None, None, n, "", f"{name} is undefined on these rows")
    chosen = {name: functions[name] for name in values if values[name] is not None}
    bounds = {
        "roc_auc": (0.0, 1.0),
        "brier": (0.0, 2.0),
        "calibration": (0.0, 1.0),
        "log_loss": (0.0, np.inf),
    }
    # Binary AUC is the costly one to resample: all resamples at once, from one sort.
    fast = {"roc_auc": lambda a, c: roc_auc_by_counts(np.asarray(a[0] == positive, bool), a[1], c)}
    out.update(
        bootstrap_metrics(
            chosen, [y_true, score], values, bounds=bounds, by_counts=fast if binary else None, **boot
        )
    )
    if "calibration" in out and out["calibration"].value is not None:
        bins = (
            expected_calibration_error(y_true == positive, score)[1]
            if binary
            else _top_label_ece(y_true, score, labels)[1]
        )
        m = out["calibration"]
        out["calibration"] = Metric(m.value, m.low, m.high, m.n, m.method, m.reason, {"reliability": bins})
    if n < n_all:
        out = {
            k: Metric(**{**v.to_dict(), "details": {**v.details, "rows_without_score": n_all - n}})
            for k, v in out.items()
        }
    return out


def expected_calibration_error(
    outcome, probability, *, n_bins: int = RELIABILITY_BINS
) -> tuple[float, list[dict]]:
    """ECE: the row-weighted mean gap between mean predicted probability and observed rate over
    ``n_bins`` equal-width probability bins, and the bins themselves (a reliability diagram).

    The bins are those of ``sklearn.calibration.calibration_curve(strategy="uniform")``; the ECE
    itself is not in scikit-learn, hence the few lines here."""
    outcome = np.asarray(outcome, dtype=float)
    probability = np.asarray(probability, dtype=float)
    if len(outcome) == 0:
        raise ValueError("no rows to compute a calibration error on")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    index = np.searchsorted(edges[1:-1], probability, side="right")
    count = np.bincount(index, minlength=n_bins)
    mean_p = np.bincount(index, weights=probability, minlength=n_bins)
    rate = np.bincount(index, weights=outcome, minlength=n_bins)
    filled = count > 0
    mean_p[filled] /= count[filled]
    rate[filled] /= count[filled]
    ece = float(np.sum(count[filled] * np.abs(rate[filled] - mean_p[filled])) / len(outcome))
    bins = [
        {"low": float(edges[i]), "high": float(edges[i + 1]), "count": int(count[i]),
         "mean_probability": float(mean_p[i]), "observed_rate": float(rate[i])}
        for i in range(n_bins) if count[i]
    ]  # fmt: skip
    return ece, bins


def _top_label_ece(y_true, proba, labels) -> tuple[float, list[dict]]:
    """Multiclass: calibration of the top-label confidence against whether the top label was right."""
    top = np.argmax(proba, axis=1)
    correct = np.asarray(labels, dtype=object)[top] == y_true
    return expected_calibration_error(correct, proba[np.arange(len(top)), top])


def regression_performance(
    y_true,
    y_pred,
    *,
    confidence: float = 0.95,
    n_boot: int = 200,
    seed: int = 0,
    metrics: Iterable[str] | None = None,
    max_boot_rows: int = MAX_BOOT_ROWS,
) -> dict[str, Metric]:
    """RMSE, MAE, MAPE and R² with bootstrap intervals. Rows where either value is missing are
    left out. MAPE leaves out rows whose true value is 0 (a percentage of 0 is undefined; sklearn
    would divide by machine epsilon) and says how many in ``details``."""
    chosen = _selected(metrics, REGRESSION_METRICS)
    y_true = np.asarray(pd.to_numeric(pd.Series(np.asarray(y_true)), errors="coerce"), dtype=float)
    y_pred = np.asarray(pd.to_numeric(pd.Series(np.asarray(y_pred)), errors="coerce"), dtype=float)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred must have the same length, got {len(y_true)} and {len(y_pred)}")
    keep = np.isfinite(y_true) & np.isfinite(y_pred)
    dropped = int((~keep).sum())
    y_true, y_pred = y_true[keep], y_pred[keep]
    n = len(y_true)
    if n == 0:
        return {
            m: Metric(None, None, None, 0, "", "no rows with both an outcome and a prediction")
            for m in chosen
        }
    functions = {
        "rmse": skm.root_mean_squared_error,
        "mae": skm.mean_absolute_error,
        "r2": skm.r2_score,
    }
    out: dict[str, Metric] = {}
    values: dict[str, float | None] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        for name in ("rmse", "mae", "r2"):
            if name in chosen:
                values[name] = _safe(functions[name], [y_true, y_pred]) if n >= 2 or name != "r2" else None
                if values[name] is None:
                    out[name] = Metric(None, None, None, n, "", f"{name} needs at least two rows")
    boot = {"confidence": confidence, "n_boot": n_boot, "max_rows": max_boot_rows}
    out.update(
        bootstrap_metrics(
            {k: functions[k] for k, v in values.items() if v is not None}, [y_true, y_pred], values,
            seed=seed, bounds={"rmse": (0, np.inf), "mae": (0, np.inf)}, **boot,
        )
    )  # fmt: skip
    if "mape" in chosen:
        nonzero = y_true != 0
        zeros = int((~nonzero).sum())
        if not nonzero.any():
            out["mape"] = Metric(None, None, None, 0, "", "MAPE is undefined: every true value is 0")
        else:
            t, p = y_true[nonzero], y_pred[nonzero]
            value = float(skm.mean_absolute_percentage_error(t, p))
            out.update(
                bootstrap_metrics(
                    {"mape": skm.mean_absolute_percentage_error}, [t, p], {"mape": value},
                    seed=seed, bounds={"mape": (0, np.inf)}, **boot,
                )
            )  # fmt: skip
            if zeros:
                out["mape"] = Metric(
                    **{**out["mape"].to_dict(), "details": {"rows_with_true_zero_left_out": zeros}}
                )
    if dropped:
        out = {
            k: Metric(**{**v.to_dict(), "details": {**v.details, "rows_left_out": dropped}})
            for k, v in out.items()
        }
    return {name: out[name] for name in chosen}


def ranking_performance(
    relevance_lists: Sequence[Sequence[float]],
    score_lists: Sequence[Sequence[float]],
    k: int = 10,
    *,
    confidence: float = 0.95,
    n_boot: int = 200,
    seed: int = 0,
) -> dict[str, Metric]:
    """NDCG@k averaged over queries (``sklearn.metrics.ndcg_score``), bootstrap over queries.

    Each query is a list of items' true relevance and the ranker's scores; lists may differ in
    length. A list is padded to at least two items with zero-relevance items scored below all
    others, which changes neither its DCG nor its ideal DCG (sklearn needs two items). A query
    with no relevant item scores 0, as in sklearn."""
    if len(relevance_lists) != len(score_lists):
        raise ValueError(f"{len(relevance_lists)} relevance lists but {len(score_lists)} score lists")
    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}")
    per_query = []
    for i, (rel, sc) in enumerate(zip(relevance_lists, score_lists, strict=True)):
        rel, sc = np.asarray(rel, dtype=float), np.asarray(sc, dtype=float)
        if rel.shape != sc.shape or rel.ndim != 1:
            raise ValueError(f"query {i}: {rel.size} relevances but {sc.size} scores")
        if len(rel) == 0 or not (np.isfinite(rel).all() and np.isfinite(sc).all()):
            continue  # nothing ranked, or unusable values: the query is left out
        if len(rel) < 2:
            rel, sc = np.append(rel, 0.0), np.append(sc, sc.min() - 1.0)
        per_query.append(float(skm.ndcg_score([rel], [sc], k=k)))
    name = f"ndcg@{k}"
    scores = np.asarray(per_query)
    left_out = len(relevance_lists) - len(scores)
    details = {"queries_left_out": left_out} if left_out else {}
    if len(scores) == 0:
        return {name: Metric(None, None, None, 0, "", "no query with ranked items", details)}
    metric = bootstrap_metrics(
        {name: np.mean}, [scores], {name: float(scores.mean())},
        confidence=confidence, n_boot=n_boot, seed=seed, bounds={name: (0.0, 1.0)}, unit="queries",
    )[name]  # fmt: skip
    return {name: Metric(**{**metric.to_dict(), "details": details})}
