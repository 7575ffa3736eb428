import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from modelyard.task_inference import from_model, from_target, infer_task


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["good", "bad", "good", None], "binary_classification"),
        ([0, 1, 1, 0], "binary_classification"),
        ([0.0, 1.0, 1.0], "binary_classification"),
        ([True, False], "binary_classification"),
        ([0.5, 1.25, 3.0], "regression"),
        ([1, 2, 3, 2], "multiclass_classification"),
        (["a", "b", "c"], "multiclass_classification"),
        ([7, 7, 7], None),
        ([], None),
    ],
)
def test_from_target(values, expected):
    assert from_target(pd.Series(values)) == expected
    assert from_target(values) == expected


def test_from_model():
    X = np.arange(24, dtype=float).reshape(12, 2)
    assert from_model(LogisticRegression().fit(X, [0, 1] * 6)) == "binary_classification"
    assert from_model(LogisticRegression().fit(X, [0, 1, 2] * 4)) == "multiclass_classification"
    pipe = Pipeline([("s", StandardScaler()), ("m", LogisticRegression())]).fit(X, [0, 1, 2] * 4)
    assert from_model(pipe) == "multiclass_classification"
    assert from_model(LinearRegression().fit(X, np.arange(12.0))) == "regression"
    assert from_model(object()) is None


def test_target_wins_over_model_and_default_is_binary():
    frame = pd.DataFrame({"y": [0.1, 0.2, 0.3]})
    X = np.arange(8, dtype=float).reshape(4, 2)
    classifier = LogisticRegression().fit(X, [0, 1, 2, 0])
    assert infer_task(classifier, frame, "y") == "regression"
    assert infer_task(classifier, frame, "missing") == "multiclass_classification"
    assert infer_task() == "binary_classification"
