"""Turn in-memory models and DataFrames into the files the API uploads. joblib, skops and pandas
are optional: imported only when a caller hands us an object that needs them."""

import importlib.util
import os
import re
import sys
from pathlib import Path

from modelyard.errors import ModelyardError

MODEL_FORMATS = ("joblib", "skops")


def is_path(value) -> bool:
    return isinstance(value, str | os.PathLike)


def is_dataframe(value) -> bool:
    # Checked through sys.modules so that pandas is never imported just to say "no".
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(value, pandas.DataFrame)


def existing_file(value, what: str) -> Path:
    path = Path(value).expanduser()
    if path.is_dir():
        raise ModelyardError(f"{what} '{path}' is a directory; zip it first (MLflow models: zip the folder)")
    if not path.is_file():
        raise ModelyardError(f"{what} '{path}' does not exist")
    return path


def safe_stem(name: str) -> str:
    """A file name stem from a model name: the server shows it and detects formats by extension."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip(".-") or "model"


def dump_model(model, directory: Path, name: str, fmt: str = "joblib") -> Path:
    if fmt not in MODEL_FORMATS:
        raise ModelyardError(f"format must be one of {', '.join(MODEL_FORMATS)}, not '{fmt}'")
    path = Path(directory) / f"{safe_stem(name)}.{fmt}"
    if fmt == "skops":
        if importlib.util.find_spec("skops") is None:
            raise ModelyardError("format='skops' needs skops: pip install 'modelyard[skops]'")
        import skops.io

        skops.io.dump(model, path)
        return path
    if importlib.util.find_spec("joblib") is None:
        raise ModelyardError("registering an in-memory model needs joblib: pip install 'modelyard[joblib]'")
    import joblib

    joblib.dump(model, path)
    return path


def dump_frame(frame, directory: Path, stem: str = "reference") -> Path:
    """Parquet keeps dtypes (so the inferred schema matches training); CSV when pyarrow is missing."""
    if importlib.util.find_spec("pyarrow") is not None:
        path = Path(directory) / f"{stem}.parquet"
        frame.to_parquet(path, index=False)
    else:
        path = Path(directory) / f"{stem}.csv"
        frame.to_csv(path, index=False)
    return path


def read_column(path: Path, column: str):
    """One column of a CSV/Parquet file (to infer the task type), or None without pandas or column."""
    if importlib.util.find_spec("pandas") is None:
        return None
    import pandas as pd

    try:
        with open(path, "rb") as handle:
            parquet = handle.read(4) == b"PAR1"
        if parquet:
            return pd.read_parquet(path, columns=[column])[column]
        return pd.read_csv(path, usecols=[column])[column]
    except (ValueError, KeyError, OSError):
        return None
