"""Check runs: a window of live traffic (merged hourly profiles) against the baseline — the
version's reference, the window before, or a profile a person accepted as the new normal —
through stats.checks.run_checks, whose p-values are corrected together. Findings are stored with
all their evidence, alerts raised and notifications queued. Nothing here changes a deployment or
a version: people decide (actions.py)."""

import math
import uuid
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.jobs.services import job_enqueue
from apps.monitoring import evaluation, frames
from apps.monitoring.alerts import alerts_raise, severity_of
from apps.monitoring.config import WINDOWS
from apps.monitoring.models import CheckRun, Finding, Monitor, ReferenceProfile
from apps.monitoring.notifications import notifications_queue
from apps.monitoring.stats.checks import CheckConfig, run_checks
from apps.monitoring.stats.prediction import class_shares
from apps.monitoring.windows import hour_of, merged_window


class RunNotPossible(Exception):
    """The run cannot compare anything (no reference profile, say); stored as the run's error."""


def window_bounds(window: str, end: datetime | None = None) -> tuple[datetime, datetime]:
    """``[end - span, end)`` with ``end`` on an hour boundary (by default the last complete hour's end)."""
    if window not in WINDOWS:
        raise ValidationError({"window": f"'{window}' is not one of {', '.join(WINDOWS)}"})
    end = hour_of(end or timezone.now())
    return end - WINDOWS[window], end


def check_run_enqueue(
    *, monitor: Monitor, window: str, end: datetime | None = None, trigger: str = "manual", user=None
) -> CheckRun:
    """Create a run and queue it as a job. Scheduled runs are keyed by monitor, window and
    schedule slot, so beat firing twice in a slot queues one run."""
    from apps.monitoring.tasks import run_check

    start, end = window_bounds(window, end)
    if trigger == CheckRun.Trigger.SCHEDULE:
        minutes = monitor.config.get("schedule_minutes", 60)
        slot = math.floor(timezone.now().timestamp() / (60 * minutes))
        key = f"monitoring.run_check:{monitor.pk}:{window}:{slot}"
    else:
        key = f"monitoring.run_check:{monitor.pk}:{window}:{uuid.uuid4().hex}"
    with transaction.atomic():
        existing = CheckRun.objects.filter(job__idempotency_key=key).first()
        if existing is not None:
            return existing
        run = CheckRun.objects.create(
            monitor=monitor,
            trigger=trigger,
            window=window,
            window_start=start,
            window_end=end,
            baseline=_baseline_kind(monitor),
            q=monitor.config.get("q", 0.05),
            correction=monitor.config.get("correction", "bh"),
            requested_by=user if user is not None and user.is_authenticated else None,
        )
        run.job = job_enqueue(
            kind="monitoring.run_check",
            subject_type="check_run",
            subject_id=run.pk,
            idempotency_key=key,
            send=lambda job_id: run_check.delay(job_id),
            team=monitor.deployment.version.model.team,
            requested_by=user,
        )
        run.save(update_fields=["job"])
    return run


def _baseline_kind(monitor: Monitor) -> str:
    if monitor.baseline_profile is not None:
        return "rebaselined"
    return monitor.config.get("baseline", "reference")


def _reference(monitor: Monitor) -> ReferenceProfile:
    reference = ReferenceProfile.objects.filter(version_id=monitor.deployment.version_id).first()
    if reference is None or reference.status != ReferenceProfile.Status.READY:
        why = reference.error if reference is not None and reference.error else "it is still being built"
        raise RunNotPossible(f"the version's reference profile is not ready: {why}")
    return reference


def _baseline(run: CheckRun, monitor: Monitor, reference: ReferenceProfile) -> tuple[dict, int]:
    if run.baseline == "rebaselined":
        return monitor.baseline_profile, int(monitor.baseline_profile.get("rows", 0))
    if run.baseline == "previous":
        span = run.window_end - run.window_start
        return merged_window(
            deployment=monitor.deployment,
            start=run.window_start - span,
            end=run.window_start,
            reference=reference.profile,
        )
    return reference.profile, reference.rows


def _features(reference: ReferenceProfile, config: dict) -> list[dict]:
    """The specs checked: the chosen input features (all by default) and always the outputs."""
    chosen = config.get("features")
    return [
        f for f in reference.features if chosen is None or f["name"] in chosen or f["name"].startswith("__")
    ]


def _shares(baseline: dict, current: dict) -> list[dict]:
    ref = baseline.get("features", {}).get(frames.PREDICTION, {})
    cur = current.get("features", {}).get(frames.PREDICTION, {})
    if ref.get("kind") != "categorical" or not cur.get("categories"):
        return []
    return class_shares(ref.get("categories", {}), cur.get("categories", {}))


def _store_findings(run: CheckRun, result) -> list[Finding]:
    rows = []
    for f in result.findings:
        rows.append(
            Finding(
                run=run,
                feature=f.feature,
                check_name=f.check,
                test=f.test,
                statistic=_finite(f.statistic),
                p_value=_finite(f.p_value),
                adjusted_p=_finite(f.adjusted_p),
                effect_size=_finite(f.effect_size),
                effect_name=f.effect_name,
                floor=f.floor,
                n_reference=f.n_reference,
                n_current=f.n_current,
                flagged=f.flagged,
                severity=severity_of(effect=f.effect_size, floor=f.floor, adjusted_p=f.adjusted_p, q=run.q)
                if f.flagged
                else "",
                details=f.details or {},
            )
        )
    return Finding.objects.bulk_create(rows)


def _finite(value):
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def check_run_execute(*, run: CheckRun, step=lambda p, m: None) -> CheckRun:
    """Do the run (idempotent: a finished run is returned as it is)."""
    run = CheckRun.objects.select_related("monitor__deployment__version__model__team").get(pk=run.pk)
    if run.status in (CheckRun.Status.SUCCEEDED, CheckRun.Status.SKIPPED, CheckRun.Status.FAILED):
        return run
    run.status = CheckRun.Status.RUNNING
    run.save(update_fields=["status"])
    try:
        return _execute(run, step)
    except RunNotPossible as exc:
        run.status, run.error, run.finished_at = CheckRun.Status.FAILED, str(exc), timezone.now()
        run.save(update_fields=["status", "error", "finished_at"])
        return run


def _execute(run: CheckRun, step) -> CheckRun:
    monitor, deployment = run.monitor, run.monitor.deployment
    reference = _reference(monitor)
    step(10, f"merging the window profiles of {run.window_start:%Y-%m-%d %H:%M} – {run.window_end:%H:%M}")
    current, rows = merged_window(
        deployment=deployment, start=run.window_start, end=run.window_end, reference=reference.profile
    )
    baseline, baseline_rows = _baseline(run, monitor, reference)
    run.rows_current, run.rows_baseline = rows, baseline_rows
    min_rows = monitor.config.get("min_rows", 100)
    short = [what for what, n in (("window", rows), ("baseline window", baseline_rows)) if n < min_rows]
    if short:
        run.status, run.finished_at = CheckRun.Status.SKIPPED, timezone.now()
        run.error = (
            f"the {short[0]} holds {min(rows, baseline_rows)} predictions; the monitor needs {min_rows}"
        )
        run.save(update_fields=["rows_current", "rows_baseline", "status", "error", "finished_at"])
        return run

    step(30, f"testing {rows} predictions against the {run.baseline}")
    config = CheckConfig.from_dict(
        {
            "q": run.q,
            "correction": run.correction,
            "overrides": monitor.config.get("overrides", {}),
            "floors": monitor.config.get("floors", {}),
            "features": [f["name"] for f in _features(reference, monitor.config)],
        }
    )
    result = run_checks(baseline, current, _features(reference, monitor.config), config)
    run.prediction_shares = _shares(baseline, current)
    step(70, "performance: realised from outcomes, estimated from scores")
    task_type = deployment.version.model.task_type
    run.performance = {
        "realised": evaluation.realised(deployment, run.window_start, run.window_end),
        "estimated": evaluation.estimated(reference, current, task_type),
    }
    with transaction.atomic():
        findings = _store_findings(run, result)
        run.tests_run = result.tests_run
        run.flagged_count = sum(f.flagged for f in findings)
        run.status, run.finished_at = CheckRun.Status.SUCCEEDED, timezone.now()
        run.save()
        for alert, event in alerts_raise(run=run):
            notifications_queue(alert=alert, event=event)
    step(95, f"{run.flagged_count} of {run.tests_run} tests flagged")
    return run


def runs_due(*, now: datetime | None = None) -> list[CheckRun]:
    """Queue the scheduled runs of every enabled monitor of a live deployment whose schedule is
    due: one run per configured window. Monitors whose reference is not ready wait for it."""
    from apps.deployments.models import Deployment

    now = now or timezone.now()
    queued = []
    monitors = Monitor.objects.filter(enabled=True, deployment__status=Deployment.Status.LIVE).select_related(
        "deployment__version__model__team"
    )
    for monitor in monitors:
        every = timedelta(minutes=monitor.config.get("schedule_minutes", 60))
        if monitor.last_scheduled_at is not None and now - monitor.last_scheduled_at < every:
            continue
        status = (
            ReferenceProfile.objects.filter(version_id=monitor.deployment.version_id)
            .values_list("status", flat=True)
            .first()
        )
        if status != ReferenceProfile.Status.READY:
            if status is None:  # a monitor made without its build (e.g. by monitors_sync)
                from apps.monitoring.references import reference_profile_enqueue

                reference_profile_enqueue(version=monitor.deployment.version)
            continue  # pending: wait; failed: a person retries it (the error says why)
        for window in monitor.config.get("windows", ["hour"]):
            queued.append(
                check_run_enqueue(monitor=monitor, window=window, trigger=CheckRun.Trigger.SCHEDULE)
            )
        Monitor.objects.filter(pk=monitor.pk).update(last_scheduled_at=now)
    return queued
