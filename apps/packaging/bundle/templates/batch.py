#!/usr/bin/env python3
"""Score a CSV or Parquet file with the packaged model:

    python batch.py INPUT.(csv|parquet) OUTPUT.(csv|parquet)

The output has the input's columns, then "prediction", a "proba_<class>" column per class for
classifiers, and "_error": empty where the row was scored, else why its values break the input schema
(such rows are kept, unscored, rather than failing the whole file). A value outside the schema's
min-max or categories is scored and counted, unless its feature is named in --refuse-outside-range.
Rows are scored 10,000 at a time. MODEL_DIR (default: this script's folder) holds package.json and
the model file.
"""

import argparse
import collections
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import schema_check
import scoring

CHUNK_ROWS = 10_000
PREDICTION = "prediction"
PROBA_PREFIX = "proba_"
ERROR = "_error"
_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Score a CSV or Parquet file with the packaged model.")
    parser.add_argument("input", type=Path, help="a .csv or .parquet file with the model's features")
    parser.add_argument("output", type=Path, help="where to write the scored rows (.csv or .parquet)")
    parser.add_argument(
        "--refuse-outside-range",
        default="",
        metavar="FEATURES",
        help="comma-separated features whose values outside the schema's range or categories are refused",
    )
    args = parser.parse_args(argv)
    refuse = schema_check.feature_list(args.refuse_outside_range)
    for path in (args.input, args.output):
        if path.suffix.lower() not in _SUFFIXES:
            parser.error(f"{path} must end in .csv or .parquet")

    package = scoring.read_package()
    schema = package.get("input_schema") or {}
    try:
        frame = read_table(args.input)
    except (OSError, ValueError) as exc:  # pandas' parser errors are ValueErrors
        print(f"error: cannot read {args.input}: {exc}", file=sys.stderr)
        return 2
    problem = _unusable(frame, schema)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        predictor = scoring.load_predictor(package)
    except Exception as exc:  # the loader's message says what is wrong and what to do
        print(f"error: cannot load the model: {exc}", file=sys.stderr)
        return 1
    parts = []
    outside = collections.Counter()
    for start in range(0, max(len(frame), 1), CHUNK_ROWS):
        chunk = frame.iloc[start : start + CHUNK_ROWS]
        try:
            parts.append(score_chunk(chunk, schema, predictor, refuse_outside=refuse, outside=outside))
        except Exception as exc:
            rows = f"{start + 1}-{start + len(chunk)}"
            print(f"error: the model failed on rows {rows}: {exc!r}", file=sys.stderr)
            return 1
    scored = _ordered(pd.concat(parts), list(frame.columns))
    write_table(scored, args.output)
    failed = int(scored[ERROR].notna().sum())
    print(f"scored {len(scored) - failed} of {len(scored)} rows into {args.output}", file=sys.stderr)
    if failed:
        print(f"{failed} rows break the input schema: see the {ERROR} column", file=sys.stderr)
    if outside:
        counted = ", ".join(f"{name} {kind} {n}" for (name, kind), n in sorted(outside.items()))
        print(f"values outside the schema's range, scored: {counted}", file=sys.stderr)
    return 0


def _unusable(frame: pd.DataFrame, schema: dict) -> str | None:
    """A problem with the whole file, where scoring row by row makes no sense."""
    missing = [name for name in scoring.feature_names(schema) if name not in frame.columns]
    if missing:
        return f"the input has no column for the features {', '.join(missing)}"
    clashing = [str(c) for c in frame.columns if c in (PREDICTION, ERROR) or str(c).startswith(PROBA_PREFIX)]
    if clashing:
        return f"the input already has output columns ({', '.join(clashing)}): rename or drop them"
    return None


def score_chunk(
    chunk: pd.DataFrame, schema: dict, predictor, *, refuse_outside=frozenset(), outside=None
) -> pd.DataFrame:
    names = scoring.feature_names(schema) or list(chunk.columns)
    records = chunk[names].to_dict("records")
    errors = [
        schema_check.record_errors(record, schema, refuse_outside=refuse_outside, outside=outside)
        for record in records
    ]
    valid = np.array([not e for e in errors], dtype=bool)
    scored = chunk.copy()
    predictions = np.full(len(chunk), None, dtype=object)
    probabilities: dict[str, np.ndarray] = {}
    if valid.any():
        kept = [record for record, ok in zip(records, valid, strict=True) if ok]
        result = scoring.score(predictor, scoring.to_frame(kept, schema))
        for row, prediction in zip(np.flatnonzero(valid), result["predictions"], strict=True):
            predictions[row] = prediction  # one by one: a list-valued prediction must stay one cell
        if "probabilities" in result:
            matrix = np.array(result["probabilities"], dtype=float)
            classes = result.get("classes") or list(range(matrix.shape[1]))
            for j, label in enumerate(classes):
                column = np.full(len(chunk), np.nan)
                column[valid] = matrix[:, j]
                probabilities[f"{PROBA_PREFIX}{label}"] = column
    scored[PREDICTION] = predictions
    for name, column in probabilities.items():
        scored[name] = column
    scored[ERROR] = ["; ".join(e) if e else None for e in errors]
    return scored


def _ordered(scored: pd.DataFrame, input_columns: list) -> pd.DataFrame:
    """Input columns, prediction, probabilities, _error: chunks without a valid row add no probability
    columns, so concatenation alone can put them last."""
    probabilities = [c for c in scored.columns if c not in input_columns and str(c).startswith(PROBA_PREFIX)]
    return scored[[*input_columns, PREDICTION, *probabilities, ERROR]]


def read_table(path: Path) -> pd.DataFrame:
    if _SUFFIXES[path.suffix.lower()] == "parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, low_memory=False)


def write_table(frame: pd.DataFrame, path: Path) -> None:
    if _SUFFIXES[path.suffix.lower()] == "parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)


if __name__ == "__main__":
    sys.exit(main())
