"""Rows as the statistics want them: the model's inputs plus its outputs as two pseudo-features,
"__prediction__" (the predicted class, or the number for regression and ranking) and "__score__"
(the positive class's probability for a binary classifier, the top probability otherwise).

The reference (scored once in the sandbox) and the live windows (from the prediction log) both go
through ``output_frame``, so both sides are derived the same way. No Django here."""

import math

import numpy as np
import pandas as pd

PREDICTION = "__prediction__"
SCORE = "__score__"
CLASSIFIERS = ("binary_classification", "multiclass_classification", "text_classification")


def label(value) -> str | None:
    """A predicted class as a label string; 1 and 1.0 are both "1", as the registry's schema has it."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    if isinstance(value, bool):
        return str(value)
    return str(value)


def output_specs(task_type: str, output_schema: dict, *, has_scores: bool) -> list[dict]:
    """Feature specs of the two pseudo-features for this kind of model."""
    if task_type in CLASSIFIERS:
        outputs = {o.get("name"): o for o in (output_schema or {}).get("outputs", [])}
        categories = outputs.get("prediction", {}).get("categories") or []
        specs = [{"name": PREDICTION, "type": "categorical", "nullable": False, "categories": categories}]
        if has_scores:
            specs.append({"name": SCORE, "type": "number", "nullable": True, "min": 0.0, "max": 1.0})
        return specs
    return [{"name": PREDICTION, "type": "number", "nullable": False}]


def scores(probabilities, task_type: str) -> np.ndarray | None:
    """One score per row from the probability rows: P(positive) = the second class's probability
    for a binary classifier (scikit-learn's order), the largest probability otherwise."""
    if probabilities is None:
        return None
    rows = [p if isinstance(p, list | tuple) and p else None for p in probabilities]
    out = np.full(len(rows), np.nan)
    for i, row in enumerate(rows):
        if row is None or any(v is None for v in row):
            continue
        out[i] = row[1] if task_type == "binary_classification" and len(row) == 2 else max(row)
    return out


def output_frame(predictions, probabilities, task_type: str) -> pd.DataFrame:
    """The pseudo-feature columns for ``predictions`` (and their probabilities, when given)."""
    columns: dict = {}
    if task_type in CLASSIFIERS:
        columns[PREDICTION] = pd.Series([label(p) for p in predictions], dtype=object)
        score = scores(probabilities, task_type)
        if score is not None:
            columns[SCORE] = score
    else:
        columns[PREDICTION] = pd.to_numeric(pd.Series(list(predictions), dtype=object), errors="coerce")
    return pd.DataFrame(columns)


def window_frame(rows: list[tuple], feature_names: list[str], task_type: str) -> pd.DataFrame:
    """Prediction-log rows ``(inputs, prediction, probabilities)`` as one frame: a column per schema
    feature (a feature missing from a request is null there) plus the pseudo-features."""
    inputs = pd.DataFrame.from_records([r[0] if isinstance(r[0], dict) else {} for r in rows])
    inputs = inputs.reindex(columns=feature_names)
    probabilities = [r[2] for r in rows]
    has_scores = any(p is not None for p in probabilities)
    outputs = output_frame([r[1] for r in rows], probabilities if has_scores else None, task_type)
    return pd.concat([inputs.reset_index(drop=True), outputs], axis=1)
