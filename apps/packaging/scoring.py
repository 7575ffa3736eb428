"""Scoring a version's model in the sandbox, under IT's packaging policy: the one way the platform
runs a model outside the inference service (validation, monitoring's reference, batch scoring,
library patches). The runner's request and answer are described in sandbox/runner.py."""

import os
import tempfile
from pathlib import Path

import pandas as pd
from django.conf import settings

from apps.packaging import validation
from apps.packaging.models import PackagingPolicy
from apps.packaging.sandbox.process import SandboxSession, run_in_sandbox
from apps.registry.models import ModelVersion


def _load_request(version: ModelVersion, policy: PackagingPolicy) -> dict:
    return {
        "artifact": version.artifact.path,
        "format": version.format,
        "mlflow_root": version.format_details.get("root", ""),
        "trusted_types": list(policy.skops_trusted_types),
        "columns": validation.feature_names(version.input_schema),
    }


def sandbox_session(version: ModelVersion, *, on_start=None) -> SandboxSession:
    """One sandboxed process of the version's model, loaded once, scoring frame after frame
    (``session.score(frame)`` answers like ``sandbox_score``), under IT's packaging policy: the
    same confinement and limits as ``sandbox_run``, the time-out per frame. Close it (or use it as
    a context manager) when done."""
    policy = PackagingPolicy.current()
    return SandboxSession(
        _load_request(version, policy),
        memory_mb=policy.sandbox_memory_mb,
        cpu_seconds=policy.sandbox_cpu_seconds,
        timeout_seconds=policy.sandbox_timeout_seconds,
        project_root=str(settings.BASE_DIR),
        hidden_paths=platform_paths(),
        on_start=on_start,
    )


def sandbox_run(
    version: ModelVersion,
    sample_path: Path,
    *,
    policy: PackagingPolicy,
    null_path: Path | None = None,
    repeats: int = 1,
    python: str | None = None,
) -> dict:
    """Load the version's model in a limited child process and score the pickled sample (and the
    null sample, when given); ``python`` is the interpreter (default: the sandbox's)."""
    request = {
        **_load_request(version, policy),
        "sample": str(sample_path),
        "null_sample": str(null_path) if null_path else None,
        "repeats": repeats,
    }
    return run_in_sandbox(
        request,
        memory_mb=policy.sandbox_memory_mb,
        cpu_seconds=policy.sandbox_cpu_seconds,
        timeout_seconds=policy.sandbox_timeout_seconds,
        project_root=str(settings.BASE_DIR),
        python=python,
        hidden_paths=platform_paths(),
    )


def platform_paths() -> list[str]:
    """The platform's own state, which model code must not see: everything in the var folder (but
    a patched environment the sandbox runs on), media, ``.env``, a SQLite database, the embedded
    broker's SQLite file, the file cache and the prediction-log spool, wherever they were put. Hidden in the
    sandbox's mount namespace when it has one; readable by their owner only in any case."""
    var = Path(settings.VAR_DIR)
    paths = [*var.iterdir()] if var.is_dir() else []
    paths += [Path(settings.MEDIA_ROOT), Path(settings.BASE_DIR) / ".env"]
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        paths.append(Path(str(database["NAME"])))
    broker = str(settings.CELERY_BROKER_URL)
    if broker.startswith("modelyard+sqlite:///"):  # the embedded broker (config/broker.py)
        broker_file = Path(broker.removeprefix("modelyard+sqlite:///"))
        paths += [
            p for p in (broker_file, Path(f"{broker_file}-wal"), Path(f"{broker_file}-shm")) if p.exists()
        ]
    for cache in settings.CACHES.values():
        if cache["BACKEND"].endswith("FileBasedCache"):
            paths.append(Path(cache["LOCATION"]))
    # As the prediction log reads them (apps/serving/logbuffer.py); its default is in the var folder.
    spool = getattr(settings, "PREDICTION_LOG_SPOOL_DIR", None) or os.environ.get("MODELYARD_SPOOL_DIR")
    if spool:
        paths.append(Path(spool))
    return [str(path) for path in paths]


def sandbox_score(version: ModelVersion, frame: pd.DataFrame) -> dict:
    """The runner's answer for ``frame`` scored once: {"ok", "predictions", "probabilities",
    "classes", ...} or {"ok": False, "stage", "error"}."""
    with tempfile.TemporaryDirectory(prefix="modelyard-score-") as folder:
        rows = Path(folder) / "rows.pkl"
        frame.to_pickle(rows)  # written here, by us, not by the model: the runner's input format
        return sandbox_run(version, rows, policy=PackagingPolicy.current())
