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
    head = fileobj.read(8192)
    fileobj.seek(0)
    if not head:
        raise DatasetError("the file is empty")
    kind = "parquet" if head[:4] == b"PAR1" or filename.lower().endswith(".parquet") else "csv"
    if kind == "csv" and b"\x00" in head:
        raise DatasetError("is a binary file, neither CSV text nor Parquet")
    try:
        if kind == "parquet":
            frame = pd.read_parquet(io.BytesIO(fileobj.read()))
        else:
            frame = pd.read_csv(fileobj, low_memory=False)
    except pd.errors.EmptyDataError as exc:
        raise DatasetError("has no header row and no data (only blank lines)") from exc
    except UnicodeDecodeError as exc:
        raise DatasetError(
            f"is neither UTF-8 text (CSV) nor Parquet: {_first_line(exc)}; save the CSV as UTF-8"
        ) from exc
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        label = "CSV" if kind == "csv" else "Parquet"
        raise DatasetError(f"cannot be read as {label}: {_first_line(exc)}") from exc
    finally:
        fileobj.seek(0)
    if frame.shape[1] == 0:
        raise DatasetError("has no columns")
    if frame.empty:
        raise DatasetError("has a header but no rows" if kind == "csv" else "has columns but no rows")
    unnamed = [c for c in frame.columns if str(c).startswith("Unnamed: ")]
    if unnamed and len(unnamed) == frame.shape[1]:
        raise DatasetError("has no header row")
    return frame, kind


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
        numbers = values.to_numpy(dtype=float)
        finite = np.isfinite(numbers)
        is_int = pd.api.types.is_integer_dtype(series) or (
            len(numbers) > 0 and bool(finite.all()) and bool(np.all(np.mod(numbers, 1) == 0))
        )
        feature = {"name": name, "type": "integer" if is_int else "number", "nullable": nullable}
        if finite.any():  # bounds from finite values: an infinity would make the schema invalid JSON
            bounded = values.iloc[finite]  # the column's own values: exact for large integers
            lo, hi = bounded.min(), bounded.max()
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
    """The model's output, from the reference data's target column. Classes are listed in the order a
    model sorts them (numbers numerically, as ``numpy.unique`` and scikit-learn's ``classes_`` do)."""
    values = target.dropna()
    if task_type in ("regression", "ranking"):
        return {"outputs": [{"name": "prediction", "type": "number"}]}
    if _sortable(values):
        classes = _labels(pd.Series(np.sort(values.unique())))
    else:
        classes = sorted(_labels(pd.Series(values.unique())))
    outputs = [{"name": "prediction", "type": "categorical", "categories": classes}]
    if task_type in ("binary_classification", "multiclass_classification", "text_classification"):
        outputs.append({"name": "probabilities", "type": "probabilities", "classes": classes})
    return {"outputs": outputs}


def _sortable(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _labels(values: pd.Series) -> list[str]:
    """Values as label strings; whole floats (an integer column that had a missing value) without
    the ``.0`` pandas' float conversion added, so 1 and 1.0 are both "1"."""
    return [str(v) for v in _as_label_series(values)]


def _as_label_series(values: pd.Series) -> pd.Series:
    if pd.api.types.is_float_dtype(values):
        numbers = values.to_numpy(dtype=float)
        whole = np.all(np.abs(numbers) < 2**53) and np.all(np.mod(numbers, 1) == 0)  # False for nan/inf
        if len(numbers) and whole:
            return values.astype("int64").astype(str)
    return values.astype(str)


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
        else:
            seen.add(name)
        ftype = feature.get("type")
        if ftype not in FEATURE_TYPES:
            problems.append(f"{where}.type: '{ftype}' is not one of {', '.join(FEATURE_TYPES)}")
        if "nullable" in feature and not isinstance(feature["nullable"], bool):
            problems.append(f"{where}.nullable: must be true or false")
        bounds = {}
        for bound in ("min", "max"):
            value = feature.get(bound)
            if bound not in feature:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
                problems.append(f"{where}.{bound}: must be a number")
            else:
                bounds[bound] = value
        if len(bounds) == 2 and bounds["min"] > bounds["max"]:
            problems.append(f"{where}.min: {bounds['min']} is greater than max {bounds['max']}")
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


_BOOLEAN_WORDS = {"true", "false", "0", "1", "yes", "no", "t", "f", "y", "n"}


def check_values(frame: pd.DataFrame, schema: dict, *, nulls: bool = True, examples: int = 3) -> list[str]:
    """Problems where values contradict their feature's type, or (with ``nulls``) are empty where
    the schema says the feature is never null. Rows count from 1, the first row after the header."""
    problems = []
    for feature in schema["features"]:
        name = feature["name"]
        if name not in frame.columns:
            continue
        series = frame[name]
        present = series.notna()
        if nulls and not feature.get("nullable", True) and not present.all():
            rows = [int(i) + 1 for i in np.flatnonzero(~present.to_numpy())[:examples]]
            problems.append(
                f"column '{name}' is not nullable in the schema but {int((~present).sum())} rows are empty "
                f"(rows {', '.join(map(str, rows))})"
            )
        kind = feature["type"]
        values = series[present]
        if kind in NUMERIC_TYPES:
            numbers = pd.to_numeric(values, errors="coerce")
            bad = numbers.isna()
            if kind == "integer":
                bad |= numbers.notna() & (numbers != np.floor(numbers))
        elif kind == "boolean" and not pd.api.types.is_bool_dtype(values):
            bad = ~values.astype(str).str.strip().str.lower().isin(_BOOLEAN_WORDS)
        elif kind == "datetime":
            bad = pd.to_datetime(values, errors="coerce", format="mixed").isna()
        else:
            continue
        if bad.any():
            positions = np.flatnonzero(present.to_numpy())[np.flatnonzero(bad.to_numpy())[:examples]]
            shown = ", ".join(f"row {int(i) + 1}: {_plain(series.iloc[i])!r}" for i in positions)
            problems.append(
                f"column '{name}' is {kind} in the schema but {int(bad.sum())} values are not ({shown})"
            )
    return problems


def _plain(value):
    """A NumPy scalar as the Python value it holds, so messages read 2.5 rather than np.float64(2.5)."""
    return value.item() if isinstance(value, np.generic) else value


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
        # Infinities are counted, not binned: they would break the histogram and the JSON.
        finite = np.isfinite(numbers)
        profile["infinite"] = int(np.count_nonzero(~finite))
        numbers = numbers[finite]
        if len(numbers):
            # Values beyond ~1e150 would overflow in the variance and interpolation: work on them
            # scaled by a power of two (exact), then scale back. Ordinary data has scale 1.
            scale = _power_of_two_scale(numbers)
            scaled = numbers / scale
            lo, hi = numbers.min(), numbers.max()
            quantiles = np.clip(np.quantile(scaled, QUANTILE_GRID) * scale, lo, hi)
            quantiles[0], quantiles[-1] = lo, hi  # exact even where scaling lost tiny values
            profile.update(
                mean=float(scaled.mean() * scale),
                std=float(scaled.std(ddof=1) * scale) if len(numbers) > 1 else 0.0,
                min=float(lo),
                max=float(hi),
                distinct=int(len(np.unique(numbers))),
                quantiles=[float(q) for q in quantiles],
                histogram=_histogram(scaled, scale),
            )
    elif feature["type"] in ("categorical", "boolean"):
        counts = _as_label_series(values).value_counts()
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
            profile.update(
                length_mean=float(lengths.mean()),
                length_quantiles=[float(q) for q in np.quantile(lengths, [0, 0.25, 0.5, 0.75, 1])],
                histogram=_histogram(lengths),
            )
    return profile


def _power_of_two_scale(numbers: np.ndarray) -> float:
    largest = float(np.max(np.abs(numbers)))
    return 1.0 if largest < 2.0**500 else float(np.ldexp(1.0, int(np.frexp(largest)[1]) - 1))


def _histogram(values: np.ndarray, scale: float = 1.0) -> dict:
    """HISTOGRAM_BINS equal bins over the values' range, as numpy.histogram makes them. A range too
    narrow for that many distinct float edges (adjacent floats, one huge value), or edges beyond the
    largest float, give one bin from the minimum to the maximum."""
    try:
        counts, edges = np.histogram(values, bins=HISTOGRAM_BINS)
        with np.errstate(over="ignore"):
            edges = edges * scale
        if not np.all(np.isfinite(edges)):
            raise ValueError("edges beyond the float range")
    except ValueError:
        counts, edges = np.array([len(values)]), np.array([values.min(), values.max()]) * scale
    return {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}


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
