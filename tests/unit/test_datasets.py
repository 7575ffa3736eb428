"""apps.registry.datasets on real data (credit applications, food reviews): reading, schema
inference and validation, column checks and profiles, checked against pandas and NumPy."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from apps.registry.datasets import (
    HISTOGRAM_BINS,
    QUANTILE_GRID,
    TOP_CATEGORIES,
    DatasetError,
    check_columns,
    check_values,
    infer_output_schema,
    infer_schema,
    profile_column,
    profile_frame,
    read_table,
    validate_schema,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]

CREDIT_COLUMNS = [
    "Status",
    "Seniority",
    "Home",
    "Time",
    "Age",
    "Marital",
    "Records",
    "Job",
    "Expenses",
    "Income",
    "Assets",
    "Debt",
    "Amount",
    "Price",
]


@pytest.fixture(scope="module")
def credit(credit_path) -> pd.DataFrame:
    with open(credit_path, "rb") as handle:
        frame, kind = read_table(handle, credit_path.name)
    assert kind == "csv"
    return frame


@pytest.fixture(scope="module")
def credit_schema(credit) -> dict:
    return infer_schema(credit, target="Status")


@pytest.fixture(scope="module")
def reviews(reviews_path) -> pd.DataFrame:
    with open(reviews_path, "rb") as handle:
        frame, _ = read_table(handle, reviews_path.name)
    return frame


def features_by_name(schema: dict) -> dict:
    return {f["name"]: f for f in schema["features"]}


def test_datasets_imports_without_django():
    code = "import sys, apps.registry.datasets; assert 'django' not in sys.modules, sorted(sys.modules)"
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


# --- read_table -----------------------------------------------------------------------------------


def test_read_credit_csv(credit_path, credit):
    assert credit.shape == (4454, 14)
    assert list(credit.columns) == CREDIT_COLUMNS
    pd.testing.assert_frame_equal(credit, pd.read_csv(credit_path))


def test_read_table_leaves_the_file_at_its_start(credit_path):
    with open(credit_path, "rb") as handle:
        handle.seek(100)
        read_table(handle, credit_path.name)
        assert handle.tell() == 0


@pytest.mark.parametrize("filename", ["reference.parquet", "reference.bin"])
def test_read_parquet(credit, tmp_path, filename):
    # Recognised by its name or, under another name, by its PAR1 magic bytes.
    path = tmp_path / filename
    credit.to_parquet(path)
    with open(path, "rb") as handle:
        frame, kind = read_table(handle, filename)
    assert kind == "parquet"
    pd.testing.assert_frame_equal(frame, credit, check_dtype=False)


def test_empty_file():
    with pytest.raises(DatasetError, match="empty"):
        read_table(io.BytesIO(b""), "reference.csv")


def test_header_only_csv():
    with pytest.raises(DatasetError, match="has a header but no rows"):
        read_table(io.BytesIO(b"Status,Age,Income\n"), "reference.csv")


def test_blank_lines_only():
    with pytest.raises(DatasetError, match="no header row and no data"):
        read_table(io.BytesIO(b"\n\n  \n"), "reference.csv")


def test_csv_without_header_names():
    with pytest.raises(DatasetError, match="has no header row"):
        read_table(io.BytesIO(b",,\n1,2,3\n"), "reference.csv")


@pytest.mark.parametrize(
    "data",
    [
        bytes(np.random.default_rng(3).integers(0, 256, 5000, dtype=np.uint8)),
        b"\x89PNG\r\n\x1a\n" + bytes(200),
        b"\x00" * 100,
    ],
    ids=["random", "png", "zeros"],
)
def test_binary_garbage(data):
    with pytest.raises(DatasetError, match="binary file, neither CSV text nor Parquet"):
        read_table(io.BytesIO(data), "reference.csv")


def test_csv_that_is_not_utf8():
    data = "Name,Age\nJosé,41\nRenée,37\n".encode("latin-1")
    with pytest.raises(DatasetError, match="save the CSV as UTF-8"):
        read_table(io.BytesIO(data), "reference.csv")


def test_malformed_csv():
    with pytest.raises(DatasetError, match="cannot be read as CSV"):
        read_table(io.BytesIO(b'a,b\n1,2\n3,"unterminated\n'), "reference.csv")


def test_corrupt_parquet(credit):
    buffer = io.BytesIO()
    credit.to_parquet(buffer)
    data = buffer.getvalue()
    with pytest.raises(DatasetError, match="cannot be read as Parquet"):
        read_table(io.BytesIO(data[: len(data) // 2]), "reference.parquet")


def test_parquet_without_rows(credit):
    buffer = io.BytesIO()
    credit.head(0).to_parquet(buffer)
    with pytest.raises(DatasetError, match="no rows"):
        read_table(buffer, "reference.parquet")


# --- infer_schema -------------------------------------------------------------------------------


def test_infer_schema_on_credit(credit, credit_schema):
    features = features_by_name(credit_schema)
    assert list(features) == CREDIT_COLUMNS[1:]  # Status is the target: left out
    assert features["Age"] == {"name": "Age", "type": "integer", "nullable": False, "min": 18, "max": 68}
    income = features["Income"]
    assert income["type"] in ("integer", "number") and income["nullable"] is True
    assert (income["min"], income["max"]) == (credit["Income"].min(), credit["Income"].max())
    for name in ("Assets", "Debt"):
        assert features[name]["nullable"] is True
    home = features["Home"]
    assert home["type"] == "categorical" and home["nullable"] is True
    assert home["categories"] == sorted(credit["Home"].dropna().unique())
    assert home["categories"] == ["ignore", "other", "owner", "parents", "priv", "rent"]
    assert features["Records"] == {
        "name": "Records",
        "type": "categorical",
        "nullable": False,
        "categories": ["no", "yes"],
    }
    assert validate_schema(credit_schema) == []


def test_infer_schema_keeps_target_when_not_named(credit):
    assert [f["name"] for f in infer_schema(credit)["features"]] == CREDIT_COLUMNS


def test_infer_schema_on_reviews(reviews):
    features = features_by_name(infer_schema(reviews, target="score"))
    assert "score" not in features
    assert features["review"] == {"name": "review", "type": "text", "nullable": False}


def test_infer_schema_of_other_dtypes():
    frame = pd.DataFrame(
        {
            "flag": [True, False, True],
            "when": pd.to_datetime(["2024-01-01", "2024-02-01", None]),
            "ratio": [0.5, 1.25, np.nan],
            "count": pd.array([1, None, 3], dtype="Int64"),
            "big": [1.0, np.inf, 3.0],
        }
    )
    features = features_by_name(infer_schema(frame))
    assert features["flag"] == {"name": "flag", "type": "boolean", "nullable": False}
    assert features["when"] == {"name": "when", "type": "datetime", "nullable": True}
    assert features["ratio"] == {"name": "ratio", "type": "number", "nullable": True, "min": 0.5, "max": 1.25}
    assert features["count"] == {"name": "count", "type": "integer", "nullable": True, "min": 1, "max": 3}
    # An infinity must not become the bound: the schema is stored as strict JSON.
    assert features["big"]["max"] == 3.0
    json.dumps(infer_schema(frame), allow_nan=False)


# --- infer_output_schema -----------------------------------------------------------------------


def test_output_schema_binary(credit):
    schema = infer_output_schema(credit["Status"], "binary_classification")
    assert schema == {
        "outputs": [
            {"name": "prediction", "type": "categorical", "categories": ["bad", "good"]},
            {"name": "probabilities", "type": "probabilities", "classes": ["bad", "good"]},
        ]
    }


def test_output_schema_regression(credit):
    assert infer_output_schema(credit["Amount"], "regression") == {
        "outputs": [{"name": "prediction", "type": "number"}]
    }


def test_output_schema_ranking_is_a_score():
    assert infer_output_schema(pd.Series([0, 1, 2, 3, 4]), "ranking") == {
        "outputs": [{"name": "prediction", "type": "number"}]
    }


def test_output_classes_are_in_the_models_order():
    # scikit-learn's classes_ (and so predict_proba's columns) sort numbers as numbers: 2 before 10.
    target = pd.Series([10, 2, 1, 2, 10, 0])
    classes = infer_output_schema(target, "multiclass_classification")["outputs"][1]["classes"]
    assert classes == ["0", "1", "2", "10"]
    assert classes == [str(c) for c in np.unique(target)]


def test_output_classes_of_an_integer_target_with_a_missing_label():
    # One missing label turns the column into floats; the classes are still "0" and "1".
    target = pd.read_csv(io.StringIO("y,x\n0,a\n1,b\n,c\n1,d\n"))["y"]
    assert target.dtype == float
    schema = infer_output_schema(target, "binary_classification")
    assert schema["outputs"][0]["categories"] == ["0", "1"]


# --- validate_schema ------------------------------------------------------------------------------


def good_schema() -> dict:
    return {
        "features": [
            {"name": "Age", "type": "integer", "nullable": False, "min": 18, "max": 68},
            {"name": "Income", "type": "number", "nullable": True},
            {"name": "Home", "type": "categorical", "categories": ["owner", "rent"]},
        ]
    }


def with_change(index: int, **changes) -> dict:
    schema = good_schema()
    schema["features"][index].update(changes)
    return schema


def test_valid_schema_has_no_problems():
    assert validate_schema(good_schema()) == []


@pytest.mark.parametrize("schema", [None, [], "features", 3, {}, {"features": "Age"}, {"inputs": []}])
def test_schema_must_be_an_object_with_a_features_list(schema):
    assert validate_schema(schema) == ['must be an object with a "features" list']


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"features": []}, "features: at least one feature is needed"),
        ({"features": ["Age"]}, "features[0]: must be an object"),
        (with_change(1, name=""), "features[1].name: required, a non-empty string"),
        (with_change(1, name=["Income"]), "features[1].name: required, a non-empty string"),
        (with_change(2, name="Age"), "features[2].name: 'Age' appears twice"),
        (with_change(2, type="string"), "features[2].type: 'string' is not one of number, integer"),
        (with_change(0, nullable="no"), "features[0].nullable: must be true or false"),
        (with_change(0, min="18"), "features[0].min: must be a number"),
        (with_change(0, max=True), "features[0].max: must be a number"),
        (with_change(0, min=70), "features[0].min: 70 is greater than max 68"),
        (with_change(2, categories=["owner", 2]), "features[2].categories: must be a list of strings"),
        (with_change(2, categories="owner,rent"), "features[2].categories: must be a list of strings"),
    ],
    ids=[
        "empty",
        "not-an-object",
        "empty-name",
        "unhashable-name",
        "duplicate",
        "unknown-type",
        "nullable-not-bool",
        "min-not-number",
        "max-bool",
        "min-above-max",
        "category-not-string",
        "categories-not-list",
    ],
)
def test_schema_problems_name_their_place(schema, expected):
    problems = validate_schema(schema)
    assert any(p.startswith(expected) for p in problems), problems


def test_schema_lists_every_problem():
    schema = {"features": [{"name": "a", "type": "float"}, {"name": "a", "type": "number", "min": "x"}]}
    assert validate_schema(schema) == [
        "features[0].type: 'float' is not one of number, integer, boolean, categorical, text, datetime",
        "features[1].name: 'a' appears twice",
        "features[1].min: must be a number",
    ]


# --- check_columns --------------------------------------------------------------------------------


def test_columns_match(credit, credit_schema):
    assert check_columns(credit, credit_schema, target="Status") == []


def test_missing_columns(credit, credit_schema):
    problems = check_columns(credit.drop(columns=["Age", "Debt"]), credit_schema, target="Status")
    assert problems == ["columns in the schema but not in the file: Age, Debt"]


def test_extra_columns(credit, credit_schema):
    problems = check_columns(credit.assign(Region="north"), credit_schema, target="Status")
    assert problems == ["columns in the file but not in the schema: Region (name the label column as target)"]


def test_target_absent(credit, credit_schema):
    problems = check_columns(credit.drop(columns=["Status"]), credit_schema, target="Status")
    assert problems == ["target column 'Status' is not in the file"]


def test_unnamed_target_is_an_extra_column(credit, credit_schema):
    assert check_columns(credit, credit_schema) == [
        "columns in the file but not in the schema: Status (name the label column as target)"
    ]


# --- profiles -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def credit_profile(credit, credit_schema) -> dict:
    return profile_frame(credit, credit_schema)


def test_profile_counts_match_pandas(credit, credit_profile):
    assert credit_profile["rows"] == 4454
    assert len(credit_profile["columns"]) == 13
    for column in credit_profile["columns"]:
        series = credit[column["name"]]
        assert column["count"] == len(series) == 4454
        assert column["nulls"] == series.isna().sum()
        assert column["null_rate"] == pytest.approx(series.isna().mean())
    nulls = {c["name"]: c["nulls"] for c in credit_profile["columns"]}
    assert nulls["Income"] > 0 and nulls["Assets"] > 0 and nulls["Debt"] > 0
    assert nulls["Home"] > 0 and nulls["Marital"] > 0 and nulls["Job"] > 0


def test_profile_numbers_match_numpy(credit, credit_profile):
    numeric = [c for c in credit_profile["columns"] if c["type"] in ("integer", "number")]
    assert {c["name"] for c in numeric} >= {"Age", "Income", "Assets", "Debt", "Amount", "Price"}
    for column in numeric:
        series = credit[column["name"]]
        values = series.dropna().to_numpy(dtype=float)
        assert column["zeros"] == (series == 0).sum()
        assert column["type_errors"] == 0 and column["infinite"] == 0
        assert column["quantiles"] == pytest.approx(np.quantile(values, QUANTILE_GRID).tolist())
        assert column["quantiles"] == sorted(column["quantiles"])
        assert column["min"] == values.min() and column["max"] == values.max()
        assert column["mean"] == pytest.approx(series.mean())
        assert column["std"] == pytest.approx(series.std())
        assert column["distinct"] == series.nunique()
        histogram = column["histogram"]
        assert len(histogram["counts"]) == HISTOGRAM_BINS and len(histogram["edges"]) == HISTOGRAM_BINS + 1
        assert sum(histogram["counts"]) == column["count"] - column["nulls"]
        assert histogram["counts"] == np.histogram(values, bins=HISTOGRAM_BINS)[0].tolist()


def test_profile_categories_match_value_counts(credit, credit_profile):
    categorical = [c for c in credit_profile["columns"] if c["type"] == "categorical"]
    assert {c["name"] for c in categorical} == {"Home", "Marital", "Records", "Job"}
    for column in categorical:
        counts = credit[column["name"]].value_counts()
        assert column["categories"] == {str(k): int(v) for k, v in counts.items()}
        assert column["distinct"] == len(counts)
        assert column["other_count"] == 0
        assert sum(column["categories"].values()) + column["nulls"] == column["count"]


def test_profile_keeps_top_categories_and_counts_the_rest():
    series = pd.Series([f"c{i:03d}" for i in range(120) for _ in range(i % 7 + 1)], name="code")
    profile = profile_column(series, {"name": "code", "type": "categorical"})
    assert len(profile["categories"]) == TOP_CATEGORIES
    assert profile["distinct"] == 120
    assert sum(profile["categories"].values()) + profile["other_count"] == len(series)
    top = series.value_counts().head(TOP_CATEGORIES)
    assert profile["categories"] == {str(k): int(v) for k, v in top.items()}


def test_profile_text_lengths(reviews):
    profile = profile_column(reviews["review"], {"name": "review", "type": "text"})
    lengths = reviews["review"].dropna().str.len().to_numpy()
    assert profile["count"] == len(reviews) and profile["nulls"] == 0
    assert profile["length_mean"] == pytest.approx(lengths.mean())
    assert profile["length_quantiles"] == pytest.approx(
        np.quantile(lengths, [0, 0.25, 0.5, 0.75, 1]).tolist()
    )
    assert (
        profile["length_quantiles"][0] == lengths.min() and profile["length_quantiles"][-1] == lengths.max()
    )
    assert sum(profile["histogram"]["counts"]) == len(lengths)
    assert profile["empty"] == 0


def test_profile_reports_progress(credit, credit_schema):
    calls = []
    profile_frame(credit.head(50), credit_schema, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(i, 13) for i in range(1, 14)]


def test_credit_profile_is_compact_json(credit_profile):
    text = json.dumps(credit_profile, separators=(",", ":"), allow_nan=False)
    assert len(text.encode()) < 200_000
    assert json.loads(text) == credit_profile


def test_profile_of_a_column_with_infinities_is_strict_json():
    series = pd.Series([1.0, np.inf, -np.inf, np.nan, 0.0, 2.5], name="x")
    profile = profile_column(series, {"name": "x", "type": "number"})
    assert (profile["nulls"], profile["infinite"], profile["zeros"]) == (1, 2, 1)
    assert sum(profile["histogram"]["counts"]) == 3
    assert (profile["min"], profile["max"]) == (0.0, 2.5)
    json.dumps(profile, allow_nan=False)


@pytest.mark.parametrize(
    "values",
    [[1.0, np.nextafter(1.0, 2.0)], [0.0, 5e-324], [1e300, 1e300], [7.0]],
    ids=["adjacent-floats", "subnormal", "huge-constant", "one-value"],
)
def test_profile_of_values_too_close_for_equal_bins(values):
    # numpy.histogram cannot make 30 distinct edges here; the profile must not fail on it.
    profile = profile_column(pd.Series(values, name="x"), {"name": "x", "type": "number"})
    assert sum(profile["histogram"]["counts"]) == len(values)
    assert profile["histogram"]["edges"][0] <= min(values) and profile["histogram"]["edges"][-1] >= max(
        values
    )


def test_profile_counts_values_that_are_not_numbers():
    series = pd.Series(["1", "2", "n/a", None, "x"], name="x")
    profile = profile_column(series, {"name": "x", "type": "integer"})
    assert (profile["nulls"], profile["type_errors"]) == (1, 2)
    assert sum(profile["histogram"]["counts"]) == 2


def test_profile_categorical_numbers_with_missing_values_use_integer_labels():
    series = pd.Series([1, 2, 2, None], name="grade")  # float64 because of the missing value
    profile = profile_column(series, {"name": "grade", "type": "categorical"})
    assert profile["categories"] == {"2": 2, "1": 1}


float_arrays = hnp.arrays(
    dtype=np.float64,
    shape=st.integers(min_value=0, max_value=300),
    # The whole float range: NaN, infinities, zeros, subnormals and values near the largest float.
    elements=st.one_of(st.floats(), st.just(0.0), st.floats(min_value=-1e3, max_value=1e3)),
)


@settings(max_examples=200, deadline=None)
@given(float_arrays)
def test_numeric_profile_properties(values):
    series = pd.Series(values, name="x")
    profile = profile_column(series, {"name": "x", "type": "number"})
    finite = values[np.isfinite(values)]
    assert profile["count"] == len(values)
    assert profile["nulls"] == int(np.isnan(values).sum())
    assert profile["zeros"] == int((values == 0).sum())
    assert profile["infinite"] == int(np.isinf(values).sum())
    histogram_total = sum(profile["histogram"]["counts"]) if "histogram" in profile else 0
    assert profile["nulls"] + profile["infinite"] + histogram_total == profile["count"]
    if len(finite):
        quantiles = profile["quantiles"]
        assert len(quantiles) == len(QUANTILE_GRID)
        assert all(a <= b for a, b in zip(quantiles, quantiles[1:], strict=False))
        assert quantiles[0] == profile["min"] == finite.min()
        assert quantiles[-1] == profile["max"] == finite.max()
    else:
        assert "quantiles" not in profile
    json.dumps(profile, allow_nan=False)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "c", "d"])), max_size=200))
def test_categorical_profile_properties(labels):
    series = pd.Series(labels, name="c", dtype=object)
    profile = profile_column(series, {"name": "c", "type": "categorical"})
    assert profile["nulls"] == series.isna().sum()
    assert sum(profile["categories"].values()) + profile["other_count"] + profile["nulls"] == len(labels)
    assert profile["categories"] == {k: int(v) for k, v in series.value_counts().items()}


def test_check_values_finds_types_and_empties_that_contradict_the_schema():
    frame = pd.DataFrame(
        {
            "age": ["31", "abc", "40", None],
            "count": [1.0, 2.5, 3.0, 4.0],
            "flag": ["yes", "no", "maybe", "1"],
            "when": ["2024-01-02", "not a date", None, "2024-03-04"],
            "home": ["rent", None, "own", "rent"],
        }
    )
    schema = {
        "features": [
            {"name": "age", "type": "integer", "nullable": False},
            {"name": "count", "type": "integer", "nullable": True},
            {"name": "flag", "type": "boolean", "nullable": True},
            {"name": "when", "type": "datetime", "nullable": True},
            {"name": "home", "type": "categorical", "nullable": True},
        ]
    }
    assert check_values(frame, schema) == [
        "column 'age' is not nullable in the schema but 1 rows are empty (rows 4)",
        "column 'age' is integer in the schema but 1 values are not (row 2: 'abc')",
        "column 'count' is integer in the schema but 1 values are not (row 2: 2.5)",
        "column 'flag' is boolean in the schema but 1 values are not (row 3: 'maybe')",
        "column 'when' is datetime in the schema but 1 values are not (row 2: 'not a date')",
    ]
    assert check_values(frame, schema, nulls=False)[0].startswith("column 'age' is integer")
    clean = frame.drop(index=[1, 2, 3])
    assert check_values(clean, schema) == []
