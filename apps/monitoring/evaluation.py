"""Performance in a check run: realised metrics where outcomes have arrived for the window's
predictions, and, for binary classifiers, CBPE estimates from the window's scores alone, with the
verdict on whether the reference calibration makes those estimates trustworthy."""

from datetime import datetime

import numpy as np
from django.db.models import Exists, JSONField, Subquery

from apps.monitoring import frames
from apps.monitoring.models import ReferenceProfile
from apps.monitoring.stats.cbpe import estimate_binary
from apps.monitoring.stats.performance import classification_performance, regression_performance
from apps.serving.models import Prediction
from apps.serving.selectors import outcome_of_prediction

# Realised metrics use at most this many labelled predictions of the window (the newest).
MAX_LABELLED_ROWS = 50_000


def _metrics(metrics: dict) -> dict:
    return {name: metric.to_dict() for name, metric in metrics.items()}


def _labelled(deployment, start: datetime, end: datetime) -> list[tuple]:
    """(prediction, probabilities, outcome value) of the window's predictions that have an outcome,
    joined on its endpoint, environment, request id and row."""
    matches = outcome_of_prediction()
    rows = (
        Prediction.objects.filter(deployment_id=deployment.pk, ts__gte=start, ts__lt=end)
        .filter(Exists(matches))
        .annotate(outcome=Subquery(matches.values("value")[:1], output_field=JSONField()))
        .order_by("-id")
        .values_list("prediction", "probabilities", "outcome")[:MAX_LABELLED_ROWS]
    )
    return list(rows)


def _positive(version) -> str | None:
    outputs = {o.get("name"): o for o in version.output_schema.get("outputs", [])}
    classes = outputs.get("probabilities", {}).get("classes") or outputs.get("prediction", {}).get(
        "categories"
    )
    return classes[1] if classes and len(classes) == 2 else None


def realised(deployment, start: datetime, end: datetime) -> dict | None:
    """Realised metrics with intervals, or None when no outcome has arrived for the window."""
    rows = _labelled(deployment, start, end)
    if not rows:
        return None
    version = deployment.version
    task_type = version.model.task_type
    predictions = [r[0] for r in rows]
    truths = [r[2] for r in rows]
    if task_type in frames.CLASSIFIERS:
        score = frames.scores([r[1] for r in rows], task_type) if any(r[1] for r in rows) else None
        positive = _positive(version)
        kwargs = {"positive": positive} if positive is not None else {}
        if task_type != "binary_classification":
            score = None  # multiclass probabilities need the full matrix; labels-only metrics here
        metrics = classification_performance(
            [frames.label(v) for v in truths], [frames.label(v) for v in predictions], score, **kwargs
        )
    elif task_type == "regression":
        metrics = regression_performance(truths, predictions)
    else:
        return {"rows": len(rows), "metrics": {}, "note": "ranking metrics need relevance lists per query"}
    return {"rows": len(rows), "metrics": _metrics(metrics)}


def estimated(reference: ReferenceProfile, window_profile: dict, task_type: str) -> dict | None:
    """CBPE for a binary classifier from the window's score sample (a fair reservoir of the whole
    window), with the reference calibration's verdict attached."""
    if task_type != "binary_classification":
        return None
    feature = window_profile.get("features", {}).get(frames.SCORE)
    sample = np.asarray((feature or {}).get("sample") or [], dtype=float)
    if sample.size == 0:
        return None
    calibration = reference.calibration or {}
    return {
        "rows": int(sample.size),
        "metrics": _metrics(estimate_binary(sample)),
        "trustworthy": bool(calibration.get("trustworthy", False)),
        "reason": calibration.get("reason") or "the reference has no labels to judge calibration",
    }
