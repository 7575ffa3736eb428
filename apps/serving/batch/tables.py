"""The file side of batch scoring, in plain pandas (no Django): check a file's header against the
input schema, read one chunk's rows, find the rows that break the schema, and put the scored file
together. Column names follow the packaged batch.py, so a file scored here or offline looks alike."""

import io
import math
from datetime import date, datetime

import numpy as np
import pandas as pd

from apps.packaging.bundle.templates.schema_check import record_errors

PREDICTION = "prediction"
PROBA_PREFIX = "proba_"
ERROR = "_error"
TEXT_TYPES = ("categorical", "text")


def feature_names(schema: dict) -> list[str]:
    return [str(f["name"]) for f in (schema or {}).get("features", [])]


def header_problems(columns, schema: dict) -> list[str]:
    """Why a file with these columns cannot be scored as a whole; [] when it can."""
    columns = [str(c) for c in columns]
    problems = []
    missing = [name for name in feature_names(schema) if name not in columns]
    if missing:
        problems.append(f"the file has no column for the features {', '.join(missing)}")
    clashing = [c for c in columns if c in (PREDICTION, ERROR) or c.startswith(PROBA_PREFIX)]
    if clashing:
        problems.append(f"the file already has output columns ({', '.join(clashing)}): rename or drop them")
    return problems


def chunk_count(rows: int, chunk_size: int) -> int:
    return max(1, math.ceil(rows / chunk_size))


def read_rows(data: bytes, kind: str, start: int, count: int, schema: dict) -> pd.DataFrame:
    """Rows [start, start + count) of a CSV or Parquet file, indexed by their row number in the file."""
    if kind == "parquet":
        frame = pd.read_parquet(io.BytesIO(data)).iloc[start : start + count]
    else:
        # The header line stays; skipped rows are records (the parser skips quoted newlines whole).
        frame = pd.read_csv(io.BytesIO(data), skiprows=range(1, start + 1), nrows=count, low_memory=False)
    frame.index = pd.RangeIndex(start, start + len(frame))
    # A chunk whose categorical column is empty reads as float NaN; the model saw text there.
    for feature in (schema or {}).get("features", []):
        name = str(feature["name"])
        textual = feature.get("type") in TEXT_TYPES and name in frame
        if textual and frame[name].dtype != object and frame[name].isna().all():
            frame[name] = frame[name].astype(object)
    return frame


def row_errors(frame: pd.DataFrame, schema: dict, *, refuse_outside=(), outside=None) -> list[list[str]]:
    """Each row's problems against the schema ([] for a row that can be scored). Values outside a
    feature's range are scored and added to ``outside`` (a Counter of (feature, kind)), unless the
    feature is in ``refuse_outside``, as the inference service does."""
    names = feature_names(schema) or list(frame.columns)
    return [
        record_errors(record, schema, refuse_outside=refuse_outside, outside=outside)
        for record in frame[names].to_dict("records")
    ]


def plain(value):
    """A cell as a JSON value: NaN as null, timestamps as ISO text, numpy scalars as Python ones."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if value is pd.NaT or value is pd.NA:
        return None
    return value


def records(frame: pd.DataFrame) -> list[dict]:
    return [{str(k): plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


def part(rows: int, errors: list[list[str]], predictions: list, probabilities, classes) -> dict:
    """One chunk's answers, for every row in order (None where the row was refused): a JSON part."""
    scored = [i for i, e in enumerate(errors) if not e]
    column = [None] * rows
    for i, prediction in zip(scored, predictions, strict=True):
        column[i] = prediction
    matrix = None
    if probabilities is not None:
        matrix = [None] * rows
        for i, values in zip(scored, probabilities, strict=True):
            matrix[i] = values
    return {
        "predictions": column,
        "probabilities": matrix,
        "classes": classes,
        "errors": ["; ".join(e) if e else None for e in errors],
    }


def assemble(frame: pd.DataFrame, parts: list[dict]) -> pd.DataFrame:
    """The input's columns, then prediction, a proba_<class> column per class (when the model has
    predict_proba) and _error, one row per input row in order. ``parts`` are in chunk order."""
    predictions = np.empty(len(frame), dtype=object)  # one cell per row, even for list predictions
    predictions[:] = [p for part in parts for p in part["predictions"]]
    scored = frame.copy()
    scored[PREDICTION] = predictions
    classes = next((p["classes"] for p in parts if p["probabilities"] is not None), None)
    width = next(
        (len(row) for p in parts if p["probabilities"] for row in p["probabilities"] if row is not None), 0
    )
    if width:
        labels = classes if classes and len(classes) == width else list(range(width))
        matrix = np.full((len(frame), width), np.nan)
        offset = 0
        for p in parts:
            for i, row in enumerate(p["probabilities"] or [None] * len(p["predictions"])):
                if row is not None:
                    matrix[offset + i] = row
            offset += len(p["predictions"])
        for j, label in enumerate(labels):
            scored[f"{PROBA_PREFIX}{label}"] = matrix[:, j]
    scored[ERROR] = [e for part in parts for e in part["errors"]]
    return scored


def read_table(data: bytes, kind: str) -> pd.DataFrame:
    if kind == "parquet":
        return pd.read_parquet(io.BytesIO(data))
    return pd.read_csv(io.BytesIO(data), low_memory=False)


def write_table(frame: pd.DataFrame, kind: str) -> bytes:
    buffer = io.BytesIO()
    if kind == "parquet":
        frame.to_parquet(buffer, index=False)
    else:
        frame.to_csv(buffer, index=False)
    return buffer.getvalue()
