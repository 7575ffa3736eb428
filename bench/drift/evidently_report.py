"""The Evidently side of bench/drift/run.py, run by its own environment's Python (Evidently 0.7 needs
pandas < 3):

    bench/drift/.venv-evidently/bin/python bench/drift/evidently_report.py FOLDER NUMERIC CATEGORICAL

FOLDER holds reference.parquet and current.parquet; NUMERIC and CATEGORICAL are comma-separated
column names, given to Evidently as its data definition so that both tools see the same types. The
timed work is what a user writes: the two Datasets and the default DataDriftPreset report."""

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import measured, report  # noqa: E402


def drifted(metric: dict) -> bool:
    """Evidently's own verdict per column: a p-value below its threshold, a distance at or above it."""
    config = metric["config"]
    if "p_value" in config["method"]:
        return metric["value"] < config["threshold"]
    return metric["value"] >= config["threshold"]


def main() -> None:
    import evidently
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    folder, numeric, categorical = Path(sys.argv[1]), sys.argv[2].split(","), sys.argv[3].split(",")
    reference = pd.read_parquet(folder / "reference.parquet")
    current = pd.read_parquet(folder / "current.parquet")
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    with measured() as cost:
        snapshot = Report([DataDriftPreset()]).run(
            Dataset.from_pandas(current, data_definition=definition),
            Dataset.from_pandas(reference, data_definition=definition),
        )
    columns = [m for m in snapshot.dict()["metrics"] if m["config"].get("type", "").endswith("ValueDrift")]
    methods = sorted({f"{m['config']['method']} >= {m['config']['threshold']}" for m in columns})
    report(
        cost.as_dict()
        | {
            "version": evidently.__version__,
            "flagged": sorted(m["config"]["column"] for m in columns if drifted(m)),
            "methods": methods,
            "scores": {m["config"]["column"]: m["value"] for m in columns},
        }
    )


if __name__ == "__main__":
    main()
