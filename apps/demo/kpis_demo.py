"""Business KPIs for the demo: what bea, who sponsors credit-default, sees when she logs in.

Runs after the monitoring demo's backfilled week on credit-risk production (monitoring_demo.py),
which the seed ends at midnight UTC, so the planted shift fills yesterday, the latest complete
day of a daily KPI, whatever the hour ``make demo`` starts.

- **A real version change inside the week**: for three days mid-week, credit-default v2 (gradient
  boosting) answered 20% of production traffic as a canary beside v1. v2 failed its AUC 0.9 bar, so
  IT overrides the failed validation first (``package_override``, audited, with the reason). The
  canary's deployment row is backfilled history (status retired, ``live_at``/``retired_at`` in the
  week, its reason says so) and its predictions are real: the applications of credit_data.csv
  scored by v2 in the sandbox, logged through the prediction log's ingestion with request ids
  ``demo-canary-…`` and with their true outcomes (older than two days). The backfilled week says v1
  served production throughout, so v1's ``live_at`` is moved back to the week's first prediction.
- **Three KPIs** defined through the KPI service: "Approval rate" (share of predictions == "good",
  daily), "Default rate among approved" (outcome == "bad" among prediction == "good") and
  "Expected profit per application" (an approved good loan earns 15% of the amount, a default loses
  half of it, a declined application nothing), rolled up here. The approval rate's band is chosen
  from the data: around the days before the shift, with its low end halfway between their lowest
  value and the shifted day's, so yesterday falls outside it and the KPI alert opens.

Idempotent: nothing happens when credit-default already has KPIs."""

import logging
import time
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from django.db import transaction
from django.utils import timezone

from apps.demo.monitoring_demo import FEATURES, PER_HOUR, _plain, _production_deployment

log = logging.getLogger(__name__)

CANARY_PREFIX = "demo-canary-"
CANARY_PERCENT = 20.0
# The canary's hours hold this many predictions beside the primary's PER_HOUR: 20% of the total.
CANARY_PER_HOUR = round(PER_HOUR * CANARY_PERCENT / (100 - CANARY_PERCENT))
CANARY_STARTS, CANARY_DAYS = timedelta(days=6, hours=-9), 3  # 6 days before the end, at 09:00
LABEL_DELAY = timedelta(days=2)
OVERRIDE_REASON = (
    "accepted for a 3-day canary on 20% of production traffic only, to measure its business impact "
    "(AUC 0.81 against a 0.9 bar; v1 keeps serving the rest)"
)


def demo_end(now: datetime | None = None) -> datetime:
    """Midnight UTC today: where the demo's backfilled history ends."""
    now = now or timezone.now()
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def _override_if_needed(ivan, version, environment) -> None:
    from apps.packaging.services import package_override, production_blocker

    if environment.name != "production" and not environment.requires_approval:
        return
    if production_blocker(version) is None:
        return
    build = version.packages.filter(status="succeeded").order_by("-created_at").first()
    if build is not None and build.override_at is None:
        package_override(user=ivan, build=build, reason=OVERRIDE_REASON)


def seed_canary(users: dict, primary, version, *, end: datetime, rng: np.random.Generator):
    """The backfilled canary of ``version`` beside ``primary`` (see the module docstring); the
    deployment, or None when the version has no package."""
    from apps.core.audit import audit_record
    from apps.deployments.models import Deployment
    from apps.packaging.scoring import sandbox_score
    from apps.serving.ingest import ingest_batch
    from apps.serving.outcomes import outcomes_submit

    build = version.packages.filter(status="succeeded").order_by("-created_at").first()
    if build is None:
        log.warning("KPI demo: v%s has no package; no canary", version.number)
        return None
    endpoint = primary.endpoint
    _override_if_needed(users["ivan"], version, endpoint.environment)
    live_at = end - CANARY_STARTS
    retired_at = live_at + timedelta(days=CANARY_DAYS)
    from apps.demo.seed import data_dir

    frame = pd.read_csv(data_dir() / "credit" / "credit_data.csv")
    answer = sandbox_score(version, frame[FEATURES])
    if not answer.get("ok"):
        log.warning("KPI demo: v%s did not score in the sandbox: %s", version.number, answer.get("error"))
        return None
    with transaction.atomic():
        canary = Deployment.objects.create(
            endpoint=endpoint,
            version=version,
            package=build,
            strategy=Deployment.Strategy.CANARY,
            role=Deployment.Role.CANARY,
            traffic_percent=CANARY_PERCENT,
            status=Deployment.Status.RETIRED,
            requested_by=users["dana"],
            decided_by=users["ivan"],
            decided_at=live_at,
            decision_reason="demo backfill: a 3-day canary on 20% of production, then retired",
            live_at=live_at,
            retired_at=retired_at,
        )
        audit_record(
            actor=users["ivan"],
            action="deployment.backfilled",
            obj=canary,
            team=version.model.team,
            live_at=live_at.isoformat(),
            retired_at=retired_at.isoformat(),
            reason="demo history: the canary's deployment and predictions are backfilled",
        )
    inputs = [{k: _plain(v) for k, v in row.items()} for row in frame[FEATURES].to_dict(orient="records")]
    records, outcomes = [], []
    for h in range(CANARY_DAYS * 24):
        hour = live_at + timedelta(hours=h)
        rows = rng.choice(len(frame), size=CANARY_PER_HOUR)
        offsets = np.sort(rng.uniform(0, 3600, size=CANARY_PER_HOUR))
        for s, r in zip(offsets, rows, strict=True):
            request_id = f"{CANARY_PREFIX}{len(records):06d}"
            records.append(
                {
                    "request_id": request_id,
                    "row": 0,
                    "endpoint": endpoint.name,
                    "environment": endpoint.environment.name,
                    "deployment_id": canary.pk,
                    "version_id": version.pk,
                    "role": canary.role,
                    "inputs": inputs[r],
                    "prediction": answer["predictions"][r],
                    "probabilities": answer["probabilities"][r] if answer.get("probabilities") else None,
                    "latency_ms": 2.0,
                    "ts": (hour + timedelta(seconds=float(s))).isoformat(),
                }
            )
            if hour < end - LABEL_DELAY:
                outcomes.append(
                    {
                        "endpoint": endpoint.name,
                        "environment": endpoint.environment.name,
                        "request_id": request_id,
                        "row": 0,
                        "value": frame["Status"][r],
                    }
                )
    for start in range(0, len(records), 5000):
        ingest_batch(records[start : start + 5000])
    if outcomes:
        outcomes_submit(user=users["dana"], records=outcomes)
    return canary


def _backdate_primary(primary) -> None:
    """The backfilled week says the primary served all of it: its live_at moves to the first
    backfilled prediction (the audit trail keeps the real time it went live in this database)."""
    from apps.deployments.models import Deployment
    from apps.serving.models import Prediction

    first = (
        Prediction.objects.filter(deployment_id=primary.pk)
        .order_by("ts")
        .values_list("ts", flat=True)
        .first()
    )
    if first is not None and primary.live_at is not None and first < primary.live_at:
        Deployment.objects.filter(pk=primary.pk).update(live_at=first - timedelta(minutes=1))
        primary.refresh_from_db()


def approval_band(points: list, *, shifted_start: datetime) -> tuple[float, float, float] | None:
    """(low, target, high) for the approval rate, from the complete days before ``shifted_start``
    and the shifted day: the low end halfway between their lowest value and the shifted day's, in
    whole percent; the high end as far above their highest; the target their mean."""
    before = [p.value for p in points if p.end <= shifted_start and p.value is not None and p.n >= 100]
    shifted = next((p.value for p in points if p.start == shifted_start and p.value is not None), None)
    if not before or shifted is None or shifted >= min(before):
        return None
    low = np.floor(100 * (min(before) + shifted) / 2) / 100
    high = np.ceil(100 * (max(before) + (min(before) - low))) / 100
    return float(low), round(float(np.mean(before)), 3), float(min(high, 1.0))


def seed_kpis(users: dict, stdout=None, *, deployment=None, canary_version=None, now=None) -> list:
    """Define and roll up the demo KPIs (see the module docstring); the KPIs, or [] when skipped.
    ``deployment`` defaults to credit-risk's production primary and ``canary_version`` to the
    model's v2 (tests pass their own); ``now`` is the backfill's end (midnight UTC today)."""
    from apps.kpis.alerts import kpi_alert_check
    from apps.kpis.models import KpiDefinition
    from apps.kpis.rollup import kpi_recompute, kpi_rollup
    from apps.kpis.services import kpi_create, kpi_update

    deployment = deployment or _production_deployment()
    if deployment is None:
        log.warning("KPI demo: credit-risk is not live in production; no KPIs defined")
        return []
    model = deployment.version.model
    if KpiDefinition.objects.filter(model=model).exists():
        return []
    started = time.monotonic()
    end = demo_end(now)
    say = stdout.write if stdout is not None else log.info
    bea, dana = users["bea"], users["dana"]
    _backdate_primary(deployment)
    if canary_version is None:
        canary_version = model.versions.filter(number=2).first()
    canary = None
    if canary_version is not None and canary_version.pk != deployment.version_id:
        canary = seed_canary(users, deployment, canary_version, end=end, rng=np.random.default_rng(2026))
    where = {"endpoint": deployment.endpoint.name, "environment": deployment.endpoint.environment.name}
    approval = kpi_create(
        user=bea,
        model=model,
        name="Approval rate",
        description="Share of applications the model approves (predicts “good”).",
        kind="share",
        params={"condition": 'prediction == "good"'},
        unit="percent",
        **where,
    )
    defaults = kpi_create(
        user=dana,
        model=model,
        owner=bea,
        name="Default rate among approved",
        description="Of the approved applications whose outcome is known, the share that defaulted.",
        kind="rate_among",
        params={"among": 'prediction == "good"', "condition": 'outcome == "bad"'},
        unit="percent",
        target=0.18,
        band_low=0.0,
        band_high=0.25,
        **where,
    )
    profit = kpi_create(
        user=dana,
        model=model,
        owner=bea,
        name="Expected profit per application",
        description="An approved loan repaid earns 15% of its amount, a default loses half of it; a "
        "declined application earns nothing. Needs the outcome.",
        kind="mean",
        params={
            "by_outcome": {
                "good": '0.15 * inputs.Amount if prediction == "good" else 0',
                "bad": '-0.5 * inputs.Amount if prediction == "good" else 0',
            }
        },
        unit="currency",
        currency="EUR",
        decimals=0,
        target=25.0,
        band_low=0.0,
        **where,
    )
    for kpi in (approval, defaults, profit):
        kpi_rollup(kpi=kpi, settle=0)
    points = list(approval.points.order_by("start"))
    band = approval_band(points, shifted_start=end - timedelta(days=1))
    if band is not None:
        low, target, high = band
        approval = kpi_update(user=bea, kpi=approval, band_low=low, target=target, band_high=high)
        if points:
            kpi_recompute(kpi=approval, start=points[0].start, end=points[-1].end)
        kpi_alert_check(kpi=approval)
    else:
        log.warning("KPI demo: the shifted day does not stand out; the approval rate has no band")
    what = [f"KPI demo: 3 KPIs on {model.name}"]
    if canary is not None:
        what.append(f"canary v{canary.version.number} backfilled from {canary.live_at:%Y-%m-%d %H:%M}")
    if band is not None:
        what.append(f"approval band {100 * band[0]:.0f}–{100 * band[2]:.0f}%")
    say(", ".join(what) + f" ({time.monotonic() - started:.0f} s)\n")
    return [approval, defaults, profit]
