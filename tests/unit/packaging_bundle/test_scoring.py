"""The packaged scoring.py: records become a typed frame, model output becomes plain JSON."""

import importlib
import json
import math

import numpy as np
import pandas as pd
import pytest

SCHEMA = {
    "features": [
        {"name": "age", "type": "integer"},
        {"name": "income", "type": "number"},
        {"name": "code", "type": "categorical"},
        {"name": "active", "type": "boolean"},
        {"name": "since", "type": "datetime"},
    ]
}


@pytest.fixture(scope="module")
def scoring(templates_on_path):
    return importlib.import_module("scoring")


def test_records_become_columns_in_schema_order_and_types(scoring):
    records = [
        {"since": "2024-01-02T03:04:05", "active": True, "code": 1, "income": 10, "age": 30, "extra": "x"},
        {"since": "2024-02-01", "active": False, "code": "b", "income": 2.5, "age": 41.0},
    ]
    frame = scoring.to_frame(records, SCHEMA)
    assert list(frame.columns) == ["age", "income", "code", "active", "since"]
    assert frame["age"].dtype == np.int64 and frame["income"].dtype == np.float64
    assert frame["code"].tolist() == ["1", "b"]
    assert frame["active"].dtype == bool
    assert pd.api.types.is_datetime64_any_dtype(frame["since"])


def test_missing_values_stay_missing(scoring):
    frame = scoring.to_frame([{"age": None, "code": None}, {"age": 3, "code": "a"}], SCHEMA)
    assert frame["age"].dtype == np.float64 and math.isnan(frame["age"][0])
    assert pd.isna(frame["code"][0])


def test_model_output_becomes_plain_json(scoring):
    class Predictor:
        classes = np.array(["no", "yes"])

        def predict(self, frame):
            return np.array([["no"], ["yes"]])  # one column per row, as some models answer

        def predict_proba(self, frame):
            return np.array([[0.75, 0.25], [np.nan, 1.0]])

    result = scoring.score(Predictor(), pd.DataFrame({"a": [1, 2]}))
    assert result == {
        "predictions": ["no", "yes"],
        "probabilities": [[0.75, 0.25], [None, 1.0]],
        "classes": ["no", "yes"],
    }
    json.dumps(result, allow_nan=False)


def test_a_regressor_gives_no_probabilities_or_classes(scoring):
    class Regressor:
        classes = None

        def predict(self, frame):
            return np.array([1.5, np.float32(2.5)])

        def predict_proba(self, frame):
            return None

    assert scoring.score(Regressor(), pd.DataFrame({"a": [1, 2]})) == {"predictions": [1.5, 2.5]}
