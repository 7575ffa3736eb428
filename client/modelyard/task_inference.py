"""Guess a model's task type when the caller does not say. Only used for a model's first version:
the server keeps the task type of an existing model.

Rules, first match wins:
1. the reference data's target column: 2 distinct values -> binary_classification;
   floating-point values -> regression; otherwise (more than 2 labels) -> multiclass_classification;
2. the model's ``classes_`` (classifiers, Pipelines ending in one): 2 -> binary, more -> multiclass;
3. a scikit-learn regressor (estimator type "regressor") -> regression;
4. otherwise binary_classification, the most common case in the platform.
"""

TASK_TYPES = (
    "binary_classification",
    "multiclass_classification",
    "regression",
    "ranking",
    "text_classification",
)
DEFAULT_TASK = "binary_classification"


def from_target(values) -> str | None:
    """Task type from a target column (a pandas Series or any sequence); None when empty."""
    series = _as_series(values)
    if series is not None:
        series = series.dropna()
        if len(series) == 0:
            return None
        distinct = series.nunique()
        is_float = series.dtype.kind == "f"
    else:
        items = [v for v in values if v is not None and v == v]  # v == v drops NaN
        if not items:
            return None
        distinct = len(set(items))
        is_float = any(isinstance(v, float) for v in items)
    if distinct == 2:
        return "binary_classification"
    if is_float:
        return "regression"
    return "multiclass_classification" if distinct > 2 else None


def from_model(model) -> str | None:
    classes = getattr(model, "classes_", None)
    if classes is not None and callable(getattr(model, "predict_proba", None)):
        try:
            count = len(classes)
        except TypeError:
            count = 0
        if count == 2:
            return "binary_classification"
        if count > 2:
            return "multiclass_classification"
    if _estimator_type(model) == "regressor":
        return "regression"
    return None


def infer_task(model=None, reference=None, target: str | None = None) -> str:
    if target and reference is not None and _has_column(reference, target):
        guess = from_target(reference[target])
        if guess:
            return guess
    if model is not None:
        guess = from_model(model)
        if guess:
            return guess
    return DEFAULT_TASK


def _estimator_type(model) -> str | None:
    # scikit-learn >= 1.6 exposes tags; older versions the _estimator_type attribute.
    tags = getattr(model, "__sklearn_tags__", None)
    if callable(tags):
        try:
            return tags().estimator_type
        except Exception:  # noqa: BLE001 - an unfitted or third-party model may refuse; fall back
            pass
    return getattr(model, "_estimator_type", None)


def _has_column(frame, name: str) -> bool:
    columns = getattr(frame, "columns", None)
    return columns is not None and name in columns


def _as_series(values):
    return values if hasattr(values, "dropna") and hasattr(values, "nunique") else None
