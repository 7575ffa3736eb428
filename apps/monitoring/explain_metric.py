"""Which metric an alert's explanation follows, chosen from the alert itself. No Django here.

- the predicted class (class share, prediction drift): the share of the class whose share moved
  most; for regression and ranking, the mean prediction;
- the score (score drift): the mean score;
- performance: the error rate (the prediction differs from the outcome) where outcomes have
  arrived in the window; for regression, the mean absolute error;
- an input feature: its mean (numeric), the share of its category that moved most (categorical),
  the share of rows missing it (null rate) or at zero (zero rate); a text feature by its length.

Some metrics need a column the frames do not have (missing, zero, length, absolute error): the
chooser adds it to both frames under a name that says what it is."""

from __future__ import annotations

import numpy as np
import pandas as pd

from apps.monitoring.stats.profiles import feature_kind
from apps.monitoring.stats.slice_model import PREDICTION, SCORE, SliceMetric, labels

OUTCOME = "__outcome__"
CLASSIFIERS = ("binary_classification", "multiclass_classification", "text_classification")


class MetricUnavailable(ValueError):
    """The alert's metric cannot be measured on these rows (no outcomes yet, say)."""


def _moved_most(reference: pd.Series, current: pd.Series) -> str:
    """The label whose share changed most between the windows (ties, as the two classes of a binary
    classifier always are: the one that rose)."""
    ref = pd.Series(labels(reference)).dropna().value_counts(normalize=True)
    cur = pd.Series(labels(current)).dropna().value_counts(normalize=True)
    if cur.empty:
        raise MetricUnavailable("the window has no values to compare")
    change = cur.reindex(cur.index.union(ref.index), fill_value=0) - ref.reindex(
        cur.index.union(ref.index), fill_value=0
    )
    order = sorted(change.index, key=lambda k: (-round(abs(change[k]), 12), -change[k], str(k)))
    return str(order[0])


def _add(frames_: tuple[pd.DataFrame, pd.DataFrame], name: str, make) -> None:
    for frame in frames_:
        frame[name] = make(frame)


def choose(
    *,
    check: str,
    feature: str,
    task_type: str,
    specs: list[dict],
    reference: pd.DataFrame,
    current: pd.DataFrame,
) -> SliceMetric:
    """The metric for an alert of ``check`` on ``feature``; may add a helper column to both frames."""
    both = (reference, current)
    classifier = task_type in CLASSIFIERS
    if check == "performance":
        if current[OUTCOME].notna().sum() == 0:
            raise MetricUnavailable("no outcomes have arrived for the window's predictions yet")
        if reference[OUTCOME].notna().sum() == 0:
            raise MetricUnavailable("the baseline has no outcomes to compare the error rate with")
        if classifier:
            return SliceMetric.error_rate(OUTCOME)
        name = "absolute error"
        _add(
            both,
            name,
            lambda f: (
                pd.to_numeric(f[PREDICTION], errors="coerce") - pd.to_numeric(f[OUTCOME], errors="coerce")
            ).abs(),
        )
        return SliceMetric.feature_mean(name, words="mean absolute error")
    if feature == PREDICTION:
        if classifier:
            return SliceMetric.prediction_share(_moved_most(reference[PREDICTION], current[PREDICTION]))
        return SliceMetric.mean_score(column=PREDICTION, words="mean prediction")
    if feature == SCORE:
        return SliceMetric.mean_score()
    spec = next((s for s in specs if s.get("name") == feature), None)
    if spec is None or feature not in current.columns:
        raise MetricUnavailable(f"{feature!r} is not a feature of this model's input schema")
    kind = feature_kind(spec)
    if check == "null_rate":
        name = f"{feature} missing"
        _add(both, name, lambda f: np.where(f[feature].isna(), "yes", "no"))
        return SliceMetric.feature_share(name, "yes", words=f"share missing {feature}")
    if check == "zero_rate" and kind == "numeric":
        name = f"{feature} is zero"
        _add(both, name, lambda f: np.where(pd.to_numeric(f[feature], errors="coerce") == 0, "yes", "no"))
        return SliceMetric.feature_share(name, "yes", words=f"share with {feature} = 0")
    if kind == "numeric":
        return SliceMetric.feature_mean(feature)
    if kind == "text":
        name = f"{feature} length"
        _add(both, name, lambda f: f[feature].astype("string").str.len().astype(float))
        return SliceMetric.feature_mean(name, words=f"mean length of {feature}")
    value = _moved_most(reference[feature], current[feature])
    return SliceMetric.feature_share(feature, value, words=f"share of {feature} = {value}")


def restates(metric: SliceMetric, definition: dict) -> bool:
    """Whether a derived feature is the metric in other words (a score bracket beside the predicted
    class's share: every bracket is nearly all one class), so slicing on it would explain nothing."""
    source = definition.get("from")
    if metric.kind == "error_rate":
        return False
    return source == metric.column or (metric.column in (PREDICTION, SCORE) and source in (PREDICTION, SCORE))
