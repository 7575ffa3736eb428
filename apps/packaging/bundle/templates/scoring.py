"""What serve.py and batch.py share: read package.json, load the model once, turn records into the
frame the model expects, and its output into plain JSON values."""

import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import schema_check

HERE = Path(__file__).resolve().parent


def package_dir() -> Path:
    return Path(os.environ.get("MODEL_DIR") or HERE)


def read_package(directory: Path | None = None) -> dict:
    """package.json: the per-model values, so these scripts are the same for every model."""
    return json.loads(((directory or package_dir()) / "package.json").read_text(encoding="utf-8"))


def load_predictor(package: dict, directory: Path | None = None):
    import model_loader  # here, not at the top: the rest of this module is usable without a model

    return model_loader.load_model(
        str((directory or package_dir()) / package["artifact_filename"]),
        package["format"],
        trusted_types=tuple(package.get("trusted_types") or ()),
        mlflow_root=package.get("mlflow_root") or "",
    )


def feature_names(schema: dict) -> list[str]:
    return [str(f["name"]) for f in (schema or {}).get("features", [])]


def to_frame(records: list[dict], schema: dict) -> pd.DataFrame:
    """Records as a DataFrame with the schema's columns, in its order, typed as pandas would have
    typed them when the training data was read (whole numbers as int64 unless a value is missing)."""
    features = (schema or {}).get("features") or []
    if not features:
        return pd.DataFrame(records)
    names = feature_names(schema)
    frame = pd.DataFrame([[record.get(n) for n in names] for record in records], columns=names)
    for feature in features:
        frame[feature["name"]] = _typed(frame[feature["name"]], feature.get("type"))
    return frame


def _typed(column: pd.Series, kind: str | None) -> pd.Series:
    if kind in ("number", "integer"):
        numbers = pd.to_numeric(column, errors="coerce").astype("float64")
        return numbers.astype("int64") if kind == "integer" and not numbers.isna().any() else numbers
    if kind == "boolean":
        return column.astype(bool) if not column.isna().any() else column
    if kind in ("categorical", "text"):
        labels = [np.nan if schema_check.is_missing(v) else _label(v) for v in column]
        return pd.Series(labels, index=column.index, name=column.name)  # str dtype where pandas infers it
    if kind == "datetime":
        try:
            return pd.to_datetime(column, format="ISO8601")
        except (ValueError, TypeError):  # mixed time zones: compare them in UTC
            return pd.to_datetime(column, format="ISO8601", utc=True, errors="coerce")
    return column


def _label(value) -> str:
    label = schema_check.category_label(value)
    return label if label is not None else str(value)


def score(predictor, frame: pd.DataFrame) -> dict:
    """{"predictions": [...], "probabilities": [[...]] (classifiers only), "classes": [...] (if known)}."""
    result = {"predictions": _flat(predictor.predict(frame))}
    predict_proba = getattr(predictor, "predict_proba", None)
    probabilities = predict_proba(frame) if callable(predict_proba) else None
    if probabilities is not None:
        result["probabilities"] = plain(np.asarray(probabilities, dtype=float).tolist())
    classes = getattr(predictor, "classes", None)
    if classes is not None:
        result["classes"] = plain(list(classes))
    return result


def _flat(values) -> list:
    array = np.asarray(values)
    if array.ndim == 2 and array.shape[1] == 1:  # some models answer one column per row
        array = array[:, 0]
    return plain(array.tolist())


def plain(value):
    """JSON-safe: numpy scalars as Python values, NaN and infinities as null."""
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value
