"""Reference data: read it, infer or check an input schema, and profile it.

Plain pandas/NumPy, no Django. A schema is ``{"features": [feature, ...]}`` where a feature is
``{"name", "type", "nullable"}`` plus ``min``/``max`` for numbers or ``categories`` for categoricals.
"""

import io
from typing import BinaryIO

import numpy as np
import pandas as pd

FEATURE_TYPES = ("number", "integer", "boolean", "categorical", "text", "datetime")
NUMERIC_TYPES = ("number", "integer")
# Above this many distinct values with long strings, an object column is free text, not a category.
_TEXT_MIN_DISTINCT_SHARE = 0.5
_TEXT_MIN_MEAN_LENGTH = 30
MAX_CATEGORIES = 200
QUANTILE_GRID = np.linspace(0, 1, 101)  # percentiles 0..100, kept for later binning
HISTOGRAM_BINS = 30
TOP_CATEGORIES = 50


class DatasetError(ValueError):
    """The data cannot be read or does not match its schema. ``problems`` lists each one."""

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = problems or [message]


def read_table(fileobj: BinaryIO, filename: str) -> tuple[pd.DataFrame, str]:
    """A CSV or Parquet file as a DataFrame, and which of the two it was."""
    fileobj.seek(0)
    head = fileobj.read(4)
    fileobj.seek(0)
    if not head:
        raise DatasetError("the file is empty")
    try:
        if head == b"PAR1" or filename.lower().endswith(".parquet"):
            return pd.read_parquet(io.BytesIO(fileobj.read())), "parquet"
        frame = pd.read_csv(fileobj, low_memory=False)
    except (ValueError, OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DatasetError(f"cannot be read as CSV or Parquet: {_first_line(exc)}") from exc
    finally:
        fileobj.seek(0)
    if frame.shape[1] == 0 or frame.empty:
        raise DatasetError("has a header but no rows")
    unnamed = [c for c in frame.columns if str(c).startswith("Unnamed: ")]
    if unnamed and len(unnamed) == frame.shape[1]:
        raise DatasetError("has no header row")
    return frame, "csv"


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def infer_feature(series: pd.Series) -> dict:
    name = str(series.name)
    nullable = bool(series.isna().any())
    values = series.dropna()
    if pd.api.types.is_bool_dtype(series):
        return {"name": name, "type": "boolean", "nullable": nullable}
    if pd.api.types.is_datetime64_any_dtype(series):
        return {"name": name, "type": "datetime", "nullable": nullable}
    if pd.api.types.is_numeric_dtype(series):
        is_int = pd.api.types.is_integer_dtype(series) or (
            len(values) > 0 and bool(np.all(np.mod(values.to_numpy(dtype=float), 1) == 0))
        )
        feature = {"name": name, "type": "integer" if is_int else "number", "nullable": nullable}
        if len(values):
            lo, hi = values.min(), values.max()
            feature["min"] = int(lo) if is_int else float(lo)
            feature["max"] = int(hi) if is_int else float(hi)
        return feature
    as_text = values.astype(str)
    distinct = as_text.nunique()
    mean_length = float(as_text.str.len().mean()) if len(as_text) else 0.0
    if distinct > MAX_CATEGORIES or (
        len(as_text)
        and distinct / len(as_text) > _TEXT_MIN_DISTINCT_SHARE
        and mean_length > _TEXT_MIN_MEAN_LENGTH
    ):
        return {"name": name, "type": "text", "nullable": nullable}
    return {"name": name, "type": "categorical", "nullable": nullable, "categories": sorted(as_text.unique())}


def infer_schema(frame: pd.DataFrame, target: str | None = None) -> dict:
    return {"features": [infer_feature(frame[c]) for c in frame.columns if c != target]}


def infer_output_schema(target: pd.Series, task_type: str) -> dict:
    """The model's output, from the reference data's target column."""
    values = target.dropna()
    if task_type == "regression":
        return {"outputs": [{"name": "prediction", "type": "number"}]}
    classes = sorted(values.astype(str).unique())
    outputs = [{"name": "prediction", "type": "categorical", "categories": classes}]
    if task_type in ("binary_classification", "multiclass_classification", "text_classification"):
        outputs.append({"name": "probabilities", "type": "probabilities", "classes": classes})
    return {"outputs": outputs}


def validate_schema(schema: object) -> list[str]:
    """Problems with a schema given by a person; empty when it is well formed."""
    if not isinstance(schema, dict) or not isinstance(schema.get("features"), list):
        return ['must be an object with a "features" list']
    problems = []
    seen = set()
    for i, feature in enumerate(schema["features"]):
        where = f"features[{i}]"
        if not isinstance(feature, dict):
            problems.append(f"{where}: must be an object")
            continue
        name = feature.get("name")
        if not isinstance(name, str) or not name:
            problems.append(f"{where}.name: required, a non-empty string")
        elif name in seen:
            problems.append(f"{where}.name: '{name}' appears twice")
        seen.add(name)
        ftype = feature.get("type")
        if ftype not in FEATURE_TYPES:
            problems.append(f"{where}.type: '{ftype}' is not one of {', '.join(FEATURE_TYPES)}")
        if "nullable" in feature and not isinstance(feature["nullable"], bool):
            problems.append(f"{where}.nullable: must be true or false")
        for bound in ("min", "max"):
            if bound in feature and not isinstance(feature[bound], int | float):
                problems.append(f"{where}.{bound}: must be a number")
        cats = feature.get("categories")
        if cats is not None and (not isinstance(cats, list) or not all(isinstance(c, str) for c in cats)):
            problems.append(f"{where}.categories: must be a list of strings")
    if not schema["features"]:
        problems.append("features: at least one feature is needed")
    return problems


def check_columns(frame: pd.DataFrame, schema: dict, target: str | None = None) -> list[str]:
    """Problems where the data's columns do not match the schema's features."""
    expected = [f["name"] for f in schema["features"]]
    columns = [str(c) for c in frame.columns]
    problems = []
    missing = [c for c in expected if c not in columns]
    extra = [c for c in columns if c not in expected and c != target]
    if missing:
        problems.append(f"columns in the schema but not in the file: {', '.join(missing)}")
    if extra:
        problems.append(
            f"columns in the file but not in the schema: {', '.join(extra)} (name the label column as target)"
        )
    if target and target not in columns:
        problems.append(f"target column '{target}' is not in the file")
    return problems


def profile_column(series: pd.Series, feature: dict) -> dict:
    count = int(len(series))
    nulls = int(series.isna().sum())
    profile: dict = {
        "name": feature["name"],
        "type": feature["type"],
        "count": count,
        "nulls": nulls,
        "null_rate": nulls / count if count else 0.0,
    }
    values = series.dropna()
    if feature["type"] in NUMERIC_TYPES:
        numbers = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=float)
        profile["type_errors"] = int(len(values) - len(numbers))
        zeros = int(np.count_nonzero(numbers == 0))
        profile.update(zeros=zeros, zero_rate=zeros / count if count else 0.0)
        if len(numbers):
            quantiles = np.quantile(numbers, QUANTILE_GRID)
            counts, edges = np.histogram(numbers, bins=HISTOGRAM_BINS)
            profile.update(
                mean=float(numbers.mean()),
                std=float(numbers.std(ddof=1)) if len(numbers) > 1 else 0.0,
                min=float(numbers.min()),
                max=float(numbers.max()),
                distinct=int(len(np.unique(numbers))),
                quantiles=[float(q) for q in quantiles],
                histogram={"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]},
            )
    elif feature["type"] in ("categorical", "boolean"):
        counts = values.astype(str).value_counts()
        top = counts.head(TOP_CATEGORIES)
        profile.update(
            distinct=int(len(counts)),
            categories={str(k): int(v) for k, v in top.items()},
            other_count=int(counts.iloc[TOP_CATEGORIES:].sum()),
        )
    elif feature["type"] == "text":
        lengths = values.astype(str).str.len().to_numpy()
        empties = int(np.count_nonzero(lengths == 0))
        profile.update(empty=empties, empty_rate=empties / count if count else 0.0)
        if len(lengths):
            counts, edges = np.histogram(lengths, bins=HISTOGRAM_BINS)
            profile.update(
                length_mean=float(lengths.mean()),
                length_quantiles=[float(q) for q in np.quantile(lengths, [0, 0.25, 0.5, 0.75, 1])],
                histogram={"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]},
            )
    return profile


def profile_frame(frame: pd.DataFrame, schema: dict, progress=None) -> dict:
    """A compact profile of every schema feature: counts, nulls, zeros, quantiles, categories.
    ``progress(done, total)`` is called after each column."""
    features = schema["features"]
    columns = []
    for i, feature in enumerate(features, start=1):
        columns.append(profile_column(frame[feature["name"]], feature))
        if progress:
            progress(i, len(features))
    return {"rows": int(len(frame)), "columns": columns}
