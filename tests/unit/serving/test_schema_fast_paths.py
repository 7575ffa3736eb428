"""The schema check's shortcuts for plain JSON values answer as the general checks do."""

import math

import numpy as np
import pandas as pd
import pytest

from apps.packaging.bundle.templates.schema_check import is_missing, validate_records

SCHEMA = {
    "features": [
        {"name": "age", "type": "integer", "min": 18, "max": 120},
        {"name": "income", "type": "number", "nullable": True, "min": 0},
    ]
}


@pytest.mark.parametrize(
    ("value", "missing"),
    [
        (None, True),
        (math.nan, True),
        (np.nan, True),
        (pd.NA, True),
        (pd.NaT, True),
        (0, False),
        (1.5, False),
        ("", False),
        (True, False),
        (np.int64(3), False),
        (np.float64("nan"), True),
    ],
)
def test_missing_values_are_recognised_whatever_their_type(value, missing):
    assert is_missing(value) is missing


@pytest.mark.parametrize(
    ("age", "error"),
    [
        (30, None),
        (30.0, None),
        (np.int64(30), None),
        (True, "expected integer"),
        ("30", "expected integer"),
        (30.5, "expected integer"),
        (17, None),  # outside the range: data, not an error (unless the feature opts in)
        (math.inf, "expected a finite number"),
    ],
)
def test_numbers_of_every_type_get_the_same_verdicts(age, error):
    errors = validate_records([{"age": age, "income": 10}], SCHEMA)
    assert errors == ([] if error is None else [f"records[0].age: {error}"])


def test_each_schema_object_is_checked_by_its_own_features():
    record = [{"age": 30, "income": -1}]
    looser = {"features": [{"name": "age", "type": "integer"}, {"name": "income", "type": "number"}]}
    for _ in range(2):  # the second round answers from the cache
        assert validate_records(record, SCHEMA, refuse_outside={"income"}) == [
            "records[0].income: below the allowed minimum 0"
        ]
        assert validate_records(record, looser, refuse_outside={"income"}) == []
