"""The packaged schema_check.py: every feature type, every payload shape, and no echo of values."""

import collections
import datetime
import math

import numpy as np
import pandas as pd
import pytest

SECRET = "SECRET-VALUE-7731"  # submitted text that must never come back in an error

SCHEMA = {
    "features": [
        {"name": "Age", "type": "integer", "nullable": False, "min": 18, "max": 68},
        {"name": "Income", "type": "number", "nullable": True, "min": 0.0, "max": 1000.0},
        {"name": "Home", "type": "categorical", "nullable": False, "categories": ["owner", "rent", "1"]},
        {"name": "Active", "type": "boolean", "nullable": False},
        {"name": "Note", "type": "text", "nullable": True},
        {"name": "Since", "type": "datetime", "nullable": False},
    ]
}
GOOD = {
    "Age": 30,
    "Income": 120.5,
    "Home": "owner",
    "Active": True,
    "Note": "ok",
    "Since": "2024-02-03T04:05:06",
}


def errors_for(schema_check, **changes):
    record = {**GOOD, **changes}
    return schema_check.validate_records([GOOD, record], SCHEMA)


def test_a_good_record_passes(schema_check):
    assert schema_check.validate_records([GOOD], SCHEMA) == []


@pytest.mark.parametrize(
    "value",
    [np.int64(30), 30.0, np.float64(30.0)],
    ids=["numpy int", "whole float", "numpy whole float"],
)
def test_whole_numbers_of_any_kind_are_integers(schema_check, value):
    assert errors_for(schema_check, Age=value) == []


def test_numpy_and_pandas_values_are_accepted(schema_check):
    record = {
        **GOOD,
        "Income": np.float32(10.5),
        "Active": np.bool_(False),
        "Note": pd.NA,
        "Since": pd.Timestamp("2024-01-01"),
    }
    assert schema_check.validate_records([record], SCHEMA) == []
    assert errors_for(schema_check, Since=datetime.date(2024, 1, 1)) == []
    assert errors_for(schema_check, Home=1) == []  # a code sent as a number matches the listed "1"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("Age", SECRET, "records[1].Age: expected integer"),
        ("Age", 30.5, "records[1].Age: expected integer"),
        ("Age", True, "records[1].Age: expected integer"),
        ("Income", SECRET, "records[1].Income: expected number"),
        ("Income", math.inf, "records[1].Income: expected a finite number"),
        ("Home", [SECRET], "records[1].Home: expected string"),
        ("Active", SECRET, "records[1].Active: expected boolean"),
        ("Active", 1, "records[1].Active: expected boolean"),
        ("Note", 5, "records[1].Note: expected string"),
        ("Since", SECRET, "records[1].Since: expected an ISO 8601 date or date-time"),
        ("Since", 20240101, "records[1].Since: expected an ISO 8601 date or date-time"),
        ("Age", None, "records[1].Age: null is not allowed"),
        ("Home", math.nan, "records[1].Home: null is not allowed"),
        ("Since", pd.NaT, "records[1].Since: null is not allowed"),
    ],
)
def test_each_bad_value_is_named_without_repeating_it(schema_check, field, value, message):
    errors = errors_for(schema_check, **{field: value})
    assert errors == [message]
    assert SECRET not in " ".join(errors)


OUTSIDE = [
    ("Age", 250, "above_max", "records[1].Age: above the allowed maximum 68"),
    ("Age", 3, "below_min", "records[1].Age: below the allowed minimum 18"),
    ("Income", -1, "below_min", "records[1].Income: below the allowed minimum 0.0"),
    ("Home", SECRET, "unknown_category", "records[1].Home: unknown category"),
]


@pytest.mark.parametrize(("field", "value", "kind", "message"), OUTSIDE)
def test_a_value_outside_the_range_is_accepted_and_counted(schema_check, field, value, kind, message):
    outside = collections.Counter()
    record = {**GOOD, field: value}
    assert schema_check.validate_records([GOOD, record], SCHEMA, outside=outside) == []
    assert outside == {(field, kind): 1}


@pytest.mark.parametrize(("field", "value", "kind", "message"), OUTSIDE)
def test_a_value_outside_the_range_is_refused_where_the_feature_opts_in(
    schema_check, field, value, kind, message
):
    outside = collections.Counter()
    record = {**GOOD, field: value}
    errors = schema_check.validate_records([GOOD, record], SCHEMA, refuse_outside={field}, outside=outside)
    assert errors == [message]
    assert SECRET not in " ".join(errors)
    # Another feature's opt-in leaves this one accepting.
    others = {"Age", "Income", "Home"} - {field}
    assert schema_check.validate_records([GOOD, record], SCHEMA, refuse_outside=others) == []


def test_record_errors_counts_outside_values_of_rows_that_fit_only(schema_check):
    outside = collections.Counter()
    assert schema_check.record_errors({**GOOD, "Age": 99}, SCHEMA, outside=outside) == []
    broken = {**GOOD, "Age": 99, "Active": SECRET}
    assert schema_check.record_errors(broken, SCHEMA, outside=outside) == ["Active: expected boolean"]
    assert outside == {("Age", "above_max"): 1}
    refused = schema_check.record_errors({**GOOD, "Age": 99}, SCHEMA, refuse_outside={"Age"})
    assert refused == ["Age: above the allowed maximum 68"]


def test_split_records_judges_each_record_on_its_own(schema_check):
    missing = {k: v for k, v in GOOD.items() if k != "Income"}
    records = [
        {**GOOD, "Age": 99},  # outside the range: fits
        {**GOOD, "Age": SECRET},
        missing,
        {**GOOD, "nickname": SECRET},
        [SECRET],
        {**GOOD, "Income": 5000.0},  # refused: Income opts in
        GOOD,
    ]
    split = schema_check.split_records(records, SCHEMA, refuse_outside={"Income"})
    assert split.good == [0, 6]
    assert split.errors == {
        1: ["records[1].Age: expected integer"],
        2: ["records[2]: missing feature Income"],
        3: ["records[3]: unexpected fields: 'nickname'"],
        4: ["records[4]: expected an object"],
        5: ["records[5].Income: above the allowed maximum 1000.0"],
    }
    assert split.error_count == 5 and split.first_errors(2) == [
        "records[1].Age: expected integer",
        "records[2]: missing feature Income",
    ]
    assert split.outside == {("Age", "above_max"): 1}
    assert SECRET not in str(split.errors)
    allowing = schema_check.split_records(records[3:4], SCHEMA, allow_extra=True)
    assert allowing.good == [0] and allowing.errors == {}


def test_feature_list_reads_a_comma_separated_setting(schema_check):
    assert schema_check.feature_list(" Age, Income,,") == {"Age", "Income"}
    assert schema_check.feature_list("") == frozenset()


def test_null_is_fine_where_the_feature_is_nullable(schema_check):
    assert errors_for(schema_check, Income=None, Note=math.nan) == []


def test_a_feature_missing_from_every_record_is_reported_once(schema_check):
    records = [{k: v for k, v in GOOD.items() if k != "Income"}] * 3
    assert schema_check.validate_records(records, SCHEMA) == ["missing feature Income"]


def test_a_feature_missing_from_some_records_is_reported_for_each(schema_check):
    partial = {k: v for k, v in GOOD.items() if k != "Income"}
    assert schema_check.validate_records([GOOD, partial], SCHEMA) == ["records[1]: missing feature Income"]


def test_extra_fields_are_refused_unless_allowed(schema_check):
    records = [{**GOOD, "customer_id": SECRET}]
    assert schema_check.validate_records(records, SCHEMA) == ["unexpected fields: 'customer_id'"]
    assert schema_check.validate_records(records, SCHEMA, allow_extra=True) == []


def test_a_record_that_is_not_an_object_is_reported(schema_check):
    assert schema_check.validate_records([GOOD, [SECRET]], SCHEMA) == ["records[1]: expected an object"]


def test_record_errors_checks_one_row_and_ignores_other_columns(schema_check):
    row = {**GOOD, "Age": SECRET, "id": 7}
    del row["Income"]
    assert schema_check.record_errors(row, SCHEMA) == ["Age: expected integer", "missing feature Income"]


def test_a_schema_without_features_checks_nothing(schema_check):
    assert schema_check.validate_records([{"anything": SECRET}], {}) == []


# --- payload shapes ---------------------------------------------------------------------------------

ROWS = [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]


@pytest.mark.parametrize(
    "payload",
    [
        {"records": ROWS},
        {"dataframe_records": ROWS},
        {"dataframe_split": {"columns": ["a", "b"], "data": [[1, "x"], [2, "y"]]}},
        {"dataframe_split": {"index": [0, 1], "columns": ["a", "b"], "data": [[1, "x"], [2, "y"]]}},
        {"instances": ROWS},
        {"instances": {"a": [1, 2], "b": ["x", "y"]}},
        {"inputs": {"a": [1, 2], "b": ["x", "y"]}},
        {"inputs": ROWS},
    ],
    ids=[
        "records",
        "dataframe_records",
        "split",
        "split+index",
        "instances",
        "instances-cols",
        "inputs",
        "inputs-rows",
    ],
)
def test_every_payload_shape_gives_the_same_records(schema_check, payload):
    assert schema_check.records_from_payload(payload) == ROWS


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ([SECRET], "must be a JSON object"),
        ({"rows": [SECRET]}, "exactly one of"),
        ({"records": ROWS, "inputs": {}}, "exactly one of"),
        ({"records": SECRET}, "records must be a list"),
        ({"records": []}, "holds no records"),
        ({"records": [{"a": 1}, SECRET]}, "records[1] must be an object"),
        ({"dataframe_split": {"data": [[SECRET]]}}, 'with a "columns" list'),
        ({"dataframe_split": {"columns": ["a"], "data": SECRET}}, "data must be a list"),
        ({"dataframe_split": {"columns": ["a", "a"], "data": [[1, 2]]}}, "repeated name"),
        ({"dataframe_split": {"columns": [1], "data": [[1]]}}, "list of strings"),
        (
            {"dataframe_split": {"columns": ["a", "b"], "data": [[1, SECRET], [SECRET]]}},
            "data[1] has 1 values for 2",
        ),
        ({"dataframe_split": {"columns": ["a"], "data": [SECRET]}}, "data[0] must be a list"),
        ({"inputs": {"a": [1, 2], "b": [SECRET]}}, "different lengths"),
        ({"inputs": {"a": SECRET}}, "must be a list"),
    ],
)
def test_a_payload_of_another_shape_is_refused_without_echo(schema_check, payload, fragment):
    with pytest.raises(ValueError) as caught:
        schema_check.records_from_payload(payload)
    assert fragment in str(caught.value)
    assert SECRET not in str(caught.value)
