"""A week of monitoring history for credit-risk in production, so the monitoring pages show
something real on the first run of ``make demo``.

Backfilled, and labelled so: every prediction's request id starts with ``demo-backfill-``.

- Rows: the applications of ../shared/data/credit/credit_data.csv, scored once by the
  deployed credit-default model in the packaging sandbox (the model never loads in this process).
- Time: PER_HOUR predictions in every hour of the last 7 days, logged through the prediction log's
  own ingestion (apps.serving.ingest.ingest_batch) with those timestamps.
- Outcomes: the rows' true ``Status`` for predictions older than 2 days (labels arrive late),
  sent by dana through the outcomes service, so realised performance shows beside the estimate.
- The planted shift, in the last 24 hours only, is slice-shaped: applications are still real rows,
  but renters in the lowest Income bin of the reference profile ("Home = rent and Income < 83" on
  the demo's data) are drawn 3× as often, and among them the applications the model calls "bad"
  4× as often. Income and Home drift, more applications are predicted "bad", and the root-cause
  explorer names that slice first on the "bad"-share alert (explained here, for the last day).
- Then the platform's own profiling (hourly window profiles) and check runs: one per day for the
  week and one per hour for the last 48 hours. The last day's are run here (recorded as finished
  jobs), so the first page view has a heatmap and an open alert; the older ones go to the worker,
  which fills in the rest of the week, realised performance included, within a few minutes.
  Beat and the live demo traffic carry on from there.
"""

import logging
import time
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from django.db import transaction
from django.utils import timezone

from apps.demo.training import CREDIT_CATEGORICAL, CREDIT_NUMERIC

log = logging.getLogger(__name__)

PREFIX = "demo-backfill-"
PER_HOUR = 150
DAYS = 7
LABEL_DELAY = timedelta(days=2)
SHIFT_HOURS = 24
# The planted slice: renters below the first Income edge are drawn SLICE_WEIGHT× as often, and among
# them the applications predicted "bad" another BAD_WEIGHT×, so the slice's "bad" share rises (a
# change in the rate, which the slice finder tests) as well as its size (which the drift checks see).
SLICE_WEIGHT, BAD_WEIGHT = 3.0, 4.0
PLANTED_HOME = "rent"
HOURLY_RUNS, DAILY_RUNS = 48, DAYS
FEATURES = CREDIT_NUMERIC + CREDIT_CATEGORICAL


def _production_deployment():
    from apps.deployments.models import Deployment

    return (
        Deployment.objects.filter(
            endpoint__name="credit-risk",
            endpoint__environment__name="production",
            status=Deployment.Status.LIVE,
            role=Deployment.Role.PRIMARY,
        )
        .select_related("endpoint__environment", "version__model")
        .first()
    )


def _ready_reference(version, wait_seconds: float = 60):
    """The version's reference profile: the worker builds it when the deployment goes live; wait a
    little for it, then build it here (the same service) rather than show an empty page."""
    from apps.monitoring.models import ReferenceProfile
    from apps.monitoring.references import reference_profile_build

    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        if ReferenceProfile.objects.filter(version=version, status=ReferenceProfile.Status.READY).exists():
            return ReferenceProfile.objects.get(version=version)
        time.sleep(1)
    return reference_profile_build(version=version)


def _plain(value):
    """A JSON value: numpy scalars as Python ones, a missing value as null."""
    if pd.isna(value):
        return None
    return value.item() if hasattr(value, "item") else value


def income_edge(version) -> float:
    """The first Income bin edge as the slice finder cuts it: the reference profile's 20 % quantile
    made readable against the scored reference rows (apps/monitoring/explain.py does the same)."""
    from apps.monitoring.explain import profile_edges
    from apps.monitoring.explain_frames import reference_frame
    from apps.monitoring.stats.slice_cells import Column, numeric_edges

    values = pd.to_numeric(reference_frame(version=version)["Income"], errors="coerce").to_numpy(float)
    edges = profile_edges(version, {"Income"})["Income"]
    inner, _ = numeric_edges(Column("Income", "Income", "numeric", values, values, edges=edges), 5)
    return float(inner[0])


def _schedule(
    frame: pd.DataFrame, now: datetime, rng: np.random.Generator, *, predictions, income_below: float
) -> list[tuple[datetime, int]]:
    """(timestamp, row index) for every backfilled prediction, oldest first."""
    end = now.replace(minute=0, second=0, microsecond=0)
    plain = np.full(len(frame), 1.0 / len(frame))
    planted = ((frame["Income"] < income_below) & (frame["Home"] == PLANTED_HOME)).to_numpy()
    bad = np.asarray([str(p) for p in predictions]) == "bad"
    shifted = np.where(planted, SLICE_WEIGHT * np.where(bad, BAD_WEIGHT, 1.0), 1.0)
    shifted = shifted / shifted.sum()
    plan = []
    for h in range(DAYS * 24, 0, -1):
        hour = end - timedelta(hours=h)
        weights = shifted if h <= SHIFT_HOURS else plain
        rows = rng.choice(len(frame), size=PER_HOUR, p=weights)
        offsets = np.sort(rng.uniform(0, 3600, size=PER_HOUR))
        plan += [(hour + timedelta(seconds=float(s)), int(r)) for s, r in zip(offsets, rows, strict=True)]
    return plan


def _log_predictions(deployment, frame, answer, plan) -> list[dict]:
    from apps.serving.ingest import ingest_batch

    inputs = [{k: _plain(v) for k, v in row.items()} for row in frame[FEATURES].to_dict(orient="records")]
    records = [
        {
            "request_id": f"{PREFIX}{i:06d}",
            "row": 0,
            "endpoint": deployment.endpoint.name,
            "environment": deployment.endpoint.environment.name,
            "deployment_id": deployment.pk,
            "version_id": deployment.version_id,
            "role": deployment.role,
            "inputs": inputs[r],
            "prediction": answer["predictions"][r],
            "probabilities": answer["probabilities"][r] if answer.get("probabilities") else None,
            "latency_ms": 2.0,
            "ts": ts.isoformat(),
        }
        for i, (ts, r) in enumerate(plan)
    ]
    for start in range(0, len(records), 5000):
        ingest_batch(records[start : start + 5000])
    return records


def _send_outcomes(user, frame, records, plan, now) -> int:
    from apps.serving.outcomes import outcomes_submit

    labelled = [
        {
            "endpoint": rec["endpoint"],
            "environment": rec["environment"],
            "request_id": rec["request_id"],
            "row": 0,
            "value": frame["Status"][r],
        }
        for rec, (ts, r) in zip(records, plan, strict=True)
        if ts < now - LABEL_DELAY
    ]
    answer = outcomes_submit(user=user, records=labelled)
    if answer.unknown:
        log.warning("monitoring demo: %d outcomes found no prediction", len(answer.unknown))
    return answer.accepted


def _run_checks(monitor, now: datetime) -> tuple[list, list]:
    """The platform's check runs (check_run_enqueue + check_run_execute) for the week: daily runs
    for 7 days and hourly runs for the last 48 hours. The last day's runs are done here, so the
    first page view has the heatmap and the open alert; each one's job is marked finished in the
    same transaction, so the worker that receives its message after the commit has nothing left
    to do. The older runs (whose windows have outcomes, so realised metrics with bootstrap
    intervals) are queued for the worker, which finishes them within a few minutes.
    (done runs, queued runs)"""
    from apps.jobs.services import job_succeed
    from apps.monitoring.runs import check_run_enqueue, check_run_execute

    end = now.replace(minute=0, second=0, microsecond=0)
    wanted = [("day", end - timedelta(days=k)) for k in range(DAILY_RUNS)]
    wanted += [("hour", end - timedelta(hours=k)) for k in range(HOURLY_RUNS)]
    done, queued = [], []
    for window, window_end in sorted(wanted, key=lambda w: w[1]):
        if window_end <= end - timedelta(hours=SHIFT_HOURS) or (window == "day" and window_end < end):
            queued.append(check_run_enqueue(monitor=monitor, window=window, end=window_end, trigger="manual"))
            continue
        with transaction.atomic():
            run = check_run_enqueue(monitor=monitor, window=window, end=window_end, trigger="manual")
            run = check_run_execute(run=run)
            job_succeed(run.job, message=f"{run.status}: {run.flagged_count} of {run.tests_run} flagged")
        done.append(run)
    return done, queued


def _explain_last_day(monitor, runs) -> int:
    """Each open alert explained over the last day's window (the alerts opened in earlier hourly runs
    also have their own analyses, which the worker runs). Done here, job marked finished in the same
    transaction, so the alert page shows its ranked explanations on the first visit."""
    from apps.jobs.services import job_fail, job_succeed
    from apps.monitoring.explain import explain_enqueue, explain_execute
    from apps.monitoring.models import Alert

    day = next((r for r in reversed(runs) if r.window == "day" and r.status == "succeeded"), None)
    if day is None:
        return 0
    alerts = Alert.objects.filter(monitor=monitor, state=Alert.State.OPEN).select_related("latest_run")
    for alert in alerts:
        with transaction.atomic():
            analysis = explain_execute(analysis=explain_enqueue(alert=alert, run=day))
            if analysis.status == analysis.Status.FAILED:
                job_fail(analysis.job, error=analysis.error)
            else:
                job_succeed(analysis.job, message=f"{len(analysis.explanation_list)} explanations")
    return len(alerts)


def seed_monitoring(
    users: dict, stdout=None, *, deployment=None, reference_wait: float = 60, now: datetime | None = None
) -> None:
    """Backfill the week once (skipped when it is already there or credit-risk is not live).
    ``deployment`` defaults to credit-risk's production primary (tests pass their own); ``now``,
    where the backfilled week ends, to the current time (the seed passes midnight UTC, so the
    planted day is a whole UTC day for the daily KPIs of apps/demo/kpis_demo.py)."""
    from apps.monitoring.services import monitor_for_live_deployment
    from apps.monitoring.windows import windows_profile_deployment
    from apps.packaging.scoring import sandbox_score
    from apps.serving.models import Prediction

    deployment = deployment or _production_deployment()
    if deployment is None:
        log.warning("monitoring demo: credit-risk is not live in production; no history backfilled")
        return
    if Prediction.objects.filter(deployment_id=deployment.pk, request_id__startswith=PREFIX).exists():
        return
    started = time.monotonic()
    say = stdout.write if stdout is not None else log.info
    monitor = monitor_for_live_deployment(deployment=deployment)
    _ready_reference(deployment.version, reference_wait)
    phases = {"reference": time.monotonic() - started}

    from apps.demo.seed import data_dir

    # Every row, incomplete ones too (about 9% lack Income): the reference has them, so dropping
    # them would itself look like drift (null rates, and the scores of imputed rows).
    frame = pd.read_csv(data_dir() / "credit" / "credit_data.csv")
    answer = sandbox_score(deployment.version, frame[FEATURES])
    phases["scoring"] = time.monotonic() - started
    if not answer.get("ok"):
        log.warning("monitoring demo: the model did not score in the sandbox: %s", answer.get("error"))
        return
    now = now or timezone.now()
    income_below = income_edge(deployment.version)
    plan = _schedule(
        frame, now, np.random.default_rng(2025), predictions=answer["predictions"], income_below=income_below
    )
    records = _log_predictions(deployment, frame, answer, plan)
    phases["logging"] = time.monotonic() - started
    labelled = _send_outcomes(users["dana"], frame, records, plan, now)
    phases["outcomes"] = time.monotonic() - started
    while windows_profile_deployment(deployment=deployment, settle=0):
        pass
    phases["profiles"] = time.monotonic() - started
    runs, queued = _run_checks(monitor, now)
    phases["checks"] = time.monotonic() - started
    explained = _explain_last_day(monitor, runs)
    phases["explanations"] = time.monotonic() - started
    log.info(
        "monitoring demo: seconds elapsed after each phase %s", {k: round(v, 1) for k, v in phases.items()}
    )
    flagged = sum(r.flagged_count for r in runs if r.window == "day")
    say(
        f"Monitoring demo: {len(records)} backfilled predictions over {DAYS} days "
        f"({labelled} with outcomes), "
        f"{len(runs)} check runs done ({flagged} findings flagged in the last day), "
        f"{len(queued)} older ones queued for the worker; "
        f"planted: Home = {PLANTED_HOME} and Income < {income_below:g}; {explained} alerts explained "
        f"({time.monotonic() - started:.0f} s)\n"
    )
