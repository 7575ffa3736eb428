"""Score a chunk's rows with a version's model in the packaging sandbox: a limited child process
without the app's secrets, never this worker (which holds database credentials)."""

import tempfile
from pathlib import Path

import pandas as pd
from django.conf import settings

from apps.packaging.models import PackagingPolicy
from apps.packaging.sandbox.process import run_in_sandbox
from apps.registry.models import ModelVersion
from apps.serving.batch.tables import feature_names


def score_in_sandbox(version: ModelVersion, frame: pd.DataFrame) -> dict:
    """The sandbox runner's answer for ``frame``: {"ok", "predictions", "probabilities", "classes",
    "latency_ms_per_row", ...} or {"ok": False, "stage", "error"}. The runner also checks that the
    model is deterministic and times it; with repeats=1 that is two more passes over the rows,
    cheap next to starting the child and loading the model."""
    policy = PackagingPolicy.current()
    with tempfile.TemporaryDirectory(prefix="modelyard-batch-") as folder:
        rows = Path(folder) / "rows.pkl"
        frame.to_pickle(rows)  # written here, by us: the runner's input format (see runner.py)
        return run_in_sandbox(
            {
                "artifact": version.artifact.path,
                "format": version.format,
                "mlflow_root": version.format_details.get("root", ""),
                "trusted_types": list(policy.skops_trusted_types),
                "columns": feature_names(version.input_schema),
                "sample": str(rows),
                "null_sample": None,
                "repeats": 1,
            },
            memory_mb=policy.sandbox_memory_mb,
            cpu_seconds=policy.sandbox_cpu_seconds,
            timeout_seconds=policy.sandbox_timeout_seconds,
            project_root=str(settings.BASE_DIR),
        )
