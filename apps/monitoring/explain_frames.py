"""The two frames the slice finder compares, row by row (it needs rows, not profiles):

- a window of the prediction log: the model's inputs, its outputs as "__prediction__"/"__score__"
  (frames.py, as the window profiles see them) and the outcome where one has arrived ("__outcome__");
- the baseline: the version's reference data with the model's own outputs on it, or an earlier
  window of the log.

The reference is scored once in the packaging sandbox (the model never loads in this process), on
the same rows references.py profiles (the same seeded sample), and kept as a compressed CSV in the
artifact store, named by the reference file's hash, so every later analysis reuses it."""

import io
from datetime import datetime

import pandas as pd
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db.models import JSONField, Subquery

from apps.monitoring import frames
from apps.monitoring.references import SCORED_ROWS
from apps.registry import datasets
from apps.registry.models import ModelVersion
from apps.serving.models import Prediction
from apps.serving.selectors import outcome_of_prediction

OUTCOME = "__outcome__"
# Rows read from a window: the newest this many (a note says so when the window holds more).
MAX_WINDOW_ROWS = 200_000


class FrameUnavailable(Exception):
    """There are no rows to compare (no reference data, the model did not score, an empty window)."""


def _feature_names(version: ModelVersion) -> list[str]:
    return [f["name"] for f in version.input_schema.get("features", [])]


def window_frame(*, deployment, start: datetime, end: datetime, max_rows: int = MAX_WINDOW_ROWS):
    """(frame, predictions in the window) for the deployment's predictions in ``[start, end)``; the
    frame holds the newest ``max_rows`` of them, with their outcome (or null)."""
    version = deployment.version
    predictions = Prediction.objects.filter(deployment_id=deployment.pk, ts__gte=start, ts__lt=end)
    total = predictions.count()
    if total == 0:
        raise FrameUnavailable(f"no predictions between {start:%Y-%m-%d %H:%M} and {end:%Y-%m-%d %H:%M} UTC")
    matches = outcome_of_prediction()
    rows = list(
        predictions.annotate(outcome=Subquery(matches.values("value")[:1], output_field=JSONField()))
        .order_by("-id")
        .values_list("inputs", "prediction", "probabilities", "outcome")[:max_rows]
    )
    frame = frames.window_frame([r[:3] for r in rows], _feature_names(version), version.model.task_type)
    as_label = frames.label if _is_label(version) else (lambda v: v)
    frame[OUTCOME] = pd.Series([as_label(r[3]) for r in rows], dtype=object)
    return frame, total


def _is_label(version: ModelVersion) -> bool:
    return version.model.task_type in frames.CLASSIFIERS


def _cache_name(version: ModelVersion) -> str:
    # The model's hash and the data's: the same name always means the same rows and scores.
    return (
        f"monitoring/explain/reference-{version.artifact_sha256[:16]}-{version.reference_sha256[:16]}.csv.gz"
    )


def reference_frame(*, version: ModelVersion, step=lambda p, m: None) -> pd.DataFrame:
    """The reference rows with the model's outputs (and the target as "__outcome__"), scored in the
    sandbox on the first call and read from the artifact store afterwards."""
    from apps.packaging.scoring import sandbox_score

    if not version.reference_sha256:
        raise FrameUnavailable(f"{version} has no reference data to compare the window with")
    name = _cache_name(version)
    if default_storage.exists(name):
        with default_storage.open(name, "rb") as handle:
            return pd.read_csv(handle, compression="gzip", low_memory=False)
    with version.reference_data.open("rb") as handle:
        data, _ = datasets.read_table(handle, version.reference_filename)
    names = [n for n in _feature_names(version) if n in data.columns]
    if not names:
        raise FrameUnavailable("the reference data has none of the schema's features")
    sample = data.sample(n=min(SCORED_ROWS, len(data)), random_state=0).reset_index(drop=True)
    step(15, f"scoring {len(sample)} reference rows in the sandbox (once per version)")
    answer = sandbox_score(version, sample.reindex(columns=_feature_names(version)))
    if not answer.get("ok"):
        raise FrameUnavailable(f"the model did not score its reference data: {answer.get('error')}")
    task_type = version.model.task_type
    outputs = frames.output_frame(answer["predictions"], answer.get("probabilities"), task_type)
    frame = pd.concat([sample.reindex(columns=_feature_names(version)), outputs], axis=1)
    target = version.target_column
    if target and target in sample.columns:
        frame[OUTCOME] = sample[target].map(frames.label) if _is_label(version) else sample[target]
    else:
        frame[OUTCOME] = None
    buffer = io.BytesIO()
    frame.to_csv(buffer, index=False, compression={"method": "gzip", "mtime": 0})
    default_storage.save(name, ContentFile(buffer.getvalue()))
    return frame
