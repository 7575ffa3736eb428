"""Holdout metrics a version can be held to, computed with scikit-learn. No Django."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn import metrics as skm


@dataclass(frozen=True)
class Metric:
    name: str
    higher_is_better: bool
    needs_probabilities: bool
    tasks: tuple[str, ...]
    compute: Callable


CLASSIFICATION = ("binary_classification", "multiclass_classification", "text_classification")


def _auc(y_true, labels, proba, classes):
    if len(classes) == 2:
        return skm.roc_auc_score(np.asarray(y_true) == classes[1], proba[:, 1])
    return skm.roc_auc_score(y_true, proba, multi_class="ovr", labels=classes)


METRICS = {
    m.name: m
    for m in [
        Metric("roc_auc", True, True, CLASSIFICATION, _auc),
        Metric("accuracy", True, False, CLASSIFICATION, lambda y, p, pr, c: skm.accuracy_score(y, p)),
        Metric("f1", True, False, CLASSIFICATION, lambda y, p, pr, c: skm.f1_score(y, p, average="macro")),
        Metric("log_loss", False, True, CLASSIFICATION, lambda y, p, pr, c: skm.log_loss(y, pr, labels=c)),
        Metric("rmse", False, False, ("regression",), lambda y, p, pr, c: skm.root_mean_squared_error(y, p)),
        Metric("mae", False, False, ("regression",), lambda y, p, pr, c: skm.mean_absolute_error(y, p)),
        Metric("r2", True, False, ("regression",), lambda y, p, pr, c: skm.r2_score(y, p)),
    ]
}


def threshold_problems(thresholds: dict, task_type: str) -> list[str]:
    """Problems with thresholds a person gave: unknown metrics, wrong task, non-numbers."""
    problems = []
    for name, bound in thresholds.items():
        metric = METRICS.get(name)
        if metric is None:
            problems.append(f"'{name}' is not a known metric; use one of {', '.join(METRICS)}")
        elif task_type and task_type not in metric.tasks:
            problems.append(f"'{name}' does not apply to {task_type}")
        elif isinstance(bound, bool) or not isinstance(bound, int | float):
            problems.append(f"'{name}': the bound must be a number")
    return problems
