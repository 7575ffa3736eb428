"""A version's reference profile: its reference data profiled by stats.profiles, plus the model's
own predictions and scores on that data. The model is scored once, in the packaging sandbox (the
only place a model is loaded outside the inference service), on a fixed sample of the rows."""

import numpy as np
import pandas as pd
from django.db import transaction
from django.utils import timezone

from apps.jobs.models import Job
from apps.jobs.services import job_enqueue
from apps.monitoring import frames
from apps.monitoring.models import ReferenceProfile
from apps.monitoring.stats.profiles import build_reference_profile
from apps.packaging.scoring import sandbox_score
from apps.registry import datasets
from apps.registry.models import ModelVersion

# Rows of the reference scored in the sandbox: enough for score and class-share distributions
# (a KS test on 5,000 rows resolves a 0.03 shift) without a long sandbox run on a big reference.
SCORED_ROWS = 5000


class ReferenceUnavailable(Exception):
    """The version cannot have a reference profile (no reference data, or the model did not score)."""


def reference_profile_enqueue(*, version: ModelVersion, user=None) -> Job | None:
    """Queue the build once per version (after the transaction commits); None when it is ready."""
    from apps.monitoring.tasks import build_reference

    profile, _ = ReferenceProfile.objects.get_or_create(version=version)
    if profile.status == ReferenceProfile.Status.READY:
        return None
    attempt = Job.objects.filter(
        kind="monitoring.build_reference", subject_id=version.pk, status=Job.Status.FAILED
    ).count()
    return job_enqueue(
        kind="monitoring.build_reference",
        subject_type="version",
        subject_id=version.pk,
        idempotency_key=f"monitoring.build_reference:{version.pk}:{attempt}",
        send=lambda job_id: build_reference.delay(job_id),
        team=version.model.team,
        requested_by=user,
    )


def _calibration(version: ModelVersion, sample: pd.DataFrame, scores) -> dict | None:
    """Whether the reference scores are calibrated against the reference labels, so that CBPE's
    estimates from live scores can be trusted. Binary classifiers with a target column only."""
    from apps.monitoring.stats.cbpe import calibration_check

    target = version.target_column
    if version.model.task_type != "binary_classification" or scores is None or target not in sample:
        return None
    classes = (
        next(
            (o for o in version.output_schema.get("outputs", []) if o.get("name") == "probabilities"), {}
        ).get("classes")
        or []
    )
    if len(classes) != 2:
        return None
    labels = sample[target].map(frames.label)
    keep = labels.notna().to_numpy() & ~np.isnan(scores)
    y_true = (labels[keep] == classes[1]).astype(int).to_numpy()
    result = calibration_check(y_true, scores[keep])
    return {**result, "positive": classes[1], "rows": int(keep.sum())}


def reference_profile_build(*, version: ModelVersion, step=lambda p, m: None) -> ReferenceProfile:
    """Profile the reference data and the model's outputs on it; store the profile. Raises
    ReferenceUnavailable (stored as the profile's error) when that cannot be done."""
    record, _ = ReferenceProfile.objects.get_or_create(version=version)
    try:
        return _build(version, record, step)
    except ReferenceUnavailable as exc:
        record.status, record.error = ReferenceProfile.Status.FAILED, str(exc)
        record.save(update_fields=["status", "error"])
        raise


def _build(version: ModelVersion, record: ReferenceProfile, step) -> ReferenceProfile:
    if not version.reference_sha256:
        raise ReferenceUnavailable(f"{version} has no reference data to compare live traffic with")
    step(5, f"reading {version.reference_filename}")
    with version.reference_data.open("rb") as handle:
        frame, _ = datasets.read_table(handle, version.reference_filename)
    specs = [f for f in version.input_schema.get("features", []) if f["name"] in frame.columns]
    if not specs:
        raise ReferenceUnavailable("the reference data has none of the schema's features")
    sample = frame.sample(n=min(SCORED_ROWS, len(frame)), random_state=0).reset_index(drop=True)
    step(20, f"scoring {len(sample)} reference rows in the sandbox")
    answer = sandbox_score(version, sample[[f["name"] for f in specs]])
    if not answer.get("ok"):
        raise ReferenceUnavailable(f"the model did not score its reference data: {answer.get('error')}")
    task_type = version.model.task_type
    outputs = frames.output_frame(answer["predictions"], answer.get("probabilities"), task_type)
    pseudo = frames.output_specs(task_type, version.output_schema, has_scores=frames.SCORE in outputs)

    step(60, f"profiling {len(specs)} features over {len(frame)} rows")
    profile = build_reference_profile(frame[[f["name"] for f in specs]], specs)
    outputs_profile = build_reference_profile(outputs, pseudo)
    profile["features"].update(outputs_profile["features"])
    scores = outputs[frames.SCORE].to_numpy() if frames.SCORE in outputs else None

    record.features = specs + pseudo
    record.profile = profile
    record.calibration = _calibration(version, sample, scores)
    record.rows, record.scored_rows = len(frame), len(sample)
    record.status, record.error, record.built_at = ReferenceProfile.Status.READY, "", timezone.now()
    with transaction.atomic():
        record.save()
    step(95, "reference profile stored")
    return record
