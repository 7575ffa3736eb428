"""Reading service levels: an endpoint's series and summary over a period, worker samples, the
deployments to mark on charts, and the summary table of the IT home page."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.core.models import AuditEvent
from apps.deployments.selectors import endpoints_visible_to
from apps.sla import series, stats
from apps.sla.models import SlaRollup, Slo, WorkerSample

PERIODS = {
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
}
MAX_PERIOD = timedelta(days=31)
MAX_STEPS = 2000
_ROLLUP_FIELDS = ("minute", "version_number", "count", "errors", "client_errors", "latency_sum_ms", "buckets")
_EVENT_LABELS = {
    "deployment.live": "live",
    "deployment.promoted": "promoted",
    "deployment.rolled_back": "rolled back",
}


@dataclass(frozen=True)
class Period:
    since: datetime
    until: datetime
    step_seconds: int


def endpoint_for_user(user, *, name: str, environment: str):
    """The endpoint named in an environment, if the user may see it (otherwise 404)."""
    return get_object_or_404(
        endpoints_visible_to(user).select_related("environment", "team"),
        name=name,
        environment__name=environment,
    )


def effective_slo(endpoint) -> Slo:
    """The endpoint's SLO; until IT sets one, an unsaved default (p99 ≤ 50 ms, 99.9% available)."""
    try:
        return endpoint.slo
    except Slo.DoesNotExist:
        return Slo(endpoint=endpoint, latency_ms=50.0, latency_percentile=99, availability_percent=99.9)


def _moment(value: str | None, field: str) -> datetime | None:
    if value in (None, ""):
        return None
    moment = parse_datetime(value)
    if moment is None:
        raise ValidationError(
            {field: f"'{value}' is not an ISO 8601 date and time, e.g. 2025-03-01T12:00:00Z"}
        )
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_period(*, since=None, until=None, step=None, period=None, now=None) -> Period:
    """A period from explicit bounds (ISO 8601) or a name (1h, 6h, 24h, 7d, ending now); the step in
    seconds (a multiple of 60) or chosen to give about 120 points. Bad values name their field."""
    now = now or timezone.now()
    end = _moment(until, "until") or now
    if period not in (None, ""):
        if period not in PERIODS:
            raise ValidationError({"period": f"'{period}' is not one of {', '.join(PERIODS)}"})
        start = end - PERIODS[period]
    else:
        start = _moment(since, "since") or end - PERIODS["1h"]
    if start >= end:
        raise ValidationError({"since": "must be before until"})
    if end - start > MAX_PERIOD:
        raise ValidationError({"since": f"a period is at most {MAX_PERIOD.days} days"})
    if step in (None, ""):
        step_seconds = series.auto_step(start, end)
    else:
        try:
            step_seconds = int(step)
        except (TypeError, ValueError):
            raise ValidationError({"step": f"'{step}' is not a whole number of seconds"}) from None
        if step_seconds < 60 or step_seconds % 60:
            raise ValidationError({"step": "a step is a whole number of minutes, in seconds: 60, 300, 3600…"})
        if (end - start).total_seconds() / step_seconds > MAX_STEPS:
            raise ValidationError({"step": f"too small for this period: more than {MAX_STEPS} steps"})
    return Period(start, end, step_seconds)


def _rollups(endpoint, period: Period):
    return (
        SlaRollup.objects.filter(
            endpoint=endpoint.name,
            environment=endpoint.environment.name,
            minute__gte=period.since - timedelta(minutes=1),
            minute__lt=period.until,
        )
        .only(*_ROLLUP_FIELDS)
        .order_by("minute")
    )


def endpoint_report(endpoint, period: Period) -> dict:
    """Series per version and in total, the budget along the period, the summary against the SLO and
    the deployments to mark: everything the SLA page and API show for one endpoint."""
    slo = effective_slo(endpoint)
    rows = [row for row in _rollups(endpoint, period) if period.since <= row.minute < period.until]
    built = series.build(rows, since=period.since, until=period.until, step_seconds=period.step_seconds)
    return {
        "endpoint": endpoint.name,
        "environment": endpoint.environment.name,
        "since": period.since,
        "until": period.until,
        "step_seconds": period.step_seconds,
        "slo": slo,
        "summary": series.summarize(
            rows,
            availability_target=slo.availability,
            latency_ms=slo.latency_ms,
            percentile=slo.latency_percentile,
        ),
        "total": built["total"],
        "versions": built["versions"],
        "budget": series.budget_timeline(built["total"], slo.availability),
        "events": deployment_events(endpoint, period),
    }


def deployment_events(endpoint, period: Period) -> list[dict]:
    """Deployments that went live, were promoted or rolled back on this endpoint in the period."""
    deployments = {d.pk: d for d in endpoint.deployments.select_related("version")}
    events = AuditEvent.objects.filter(
        object_type="deployment",
        object_id__in=list(deployments),
        action__in=list(_EVENT_LABELS),
        created_at__gte=period.since,
        created_at__lt=period.until,
    ).order_by("created_at", "id")
    found = []
    for event in events:
        deployment = deployments[event.object_id]
        what = _EVENT_LABELS[event.action]
        if event.action == "deployment.live" and deployment.role != "primary":
            what = f"{deployment.role} {deployment.traffic_percent:g}% live"
        found.append(
            {
                "t": event.created_at,
                "action": event.action,
                "version": deployment.version.number,
                "label": f"v{deployment.version.number} {what}",
            }
        )
    return found


def worker_report(period: Period, *, host: str | None = None) -> list[dict]:
    """Inference worker processes seen in the period with their samples, averaged per step."""
    samples = WorkerSample.objects.filter(ts__gte=period.since, ts__lt=period.until).order_by("ts")
    if host:
        samples = samples.filter(host=host)
    workers: dict[tuple, dict] = {}
    for sample in samples.only("host", "pid", "ts", "cpu_percent", "rss_bytes", "requests"):
        step = int(sample.ts.timestamp() // period.step_seconds * period.step_seconds)
        worker = workers.setdefault((sample.host, sample.pid), {})
        bucket = worker.setdefault(step, {"cpu": [], "rss": [], "requests": 0})
        if sample.cpu_percent is not None:
            bucket["cpu"].append(sample.cpu_percent)
        bucket["rss"].append(sample.rss_bytes)
        bucket["requests"] += sample.requests
    return [
        {
            "host": host_name,
            "pid": pid,
            "samples": [
                {
                    "t": datetime.fromtimestamp(step, UTC).isoformat(),
                    "cpu_percent": round(sum(b["cpu"]) / len(b["cpu"]), 2) if b["cpu"] else None,
                    "rss_bytes": max(b["rss"]),
                    "requests": b["requests"],
                }
                for step, b in sorted(steps.items())
            ],
        }
        for (host_name, pid), steps in sorted(workers.items())
    ]


def home_summaries(user, *, now=None) -> list[dict]:
    """One row per visible endpoint: p-latency over the last hour and availability and error budget
    over the last 24 hours, against its SLO. A fixed number of queries, however many endpoints."""
    now = now or timezone.now()
    endpoints = list(
        endpoints_visible_to(user).select_related("environment", "slo").order_by("name", "environment__order")
    )
    if not endpoints:
        return []
    day = now - timedelta(hours=24)
    hour = now - timedelta(hours=1)
    rows: dict[tuple, list] = {}
    for row in SlaRollup.objects.filter(
        endpoint__in={e.name for e in endpoints}, minute__gte=day, minute__lt=now
    ).only("endpoint", "environment", *_ROLLUP_FIELDS):
        rows.setdefault((row.endpoint, row.environment), []).append(row)
    summaries = []
    for endpoint in endpoints:
        slo = effective_slo(endpoint)
        found = rows.get((endpoint.name, endpoint.environment.name), [])
        last_day = series.summarize(
            found,
            availability_target=slo.availability,
            latency_ms=slo.latency_ms,
            percentile=slo.latency_percentile,
        )
        last_hour = series.summarize(
            [r for r in found if r.minute >= hour],
            availability_target=slo.availability,
            latency_ms=slo.latency_ms,
            percentile=slo.latency_percentile,
        )
        budget = stats.error_budget(
            requests=last_day["requests"], errors=last_day["errors"], target=slo.availability
        )
        summaries.append(
            {
                "endpoint": endpoint,
                "slo": slo,
                "hour": last_hour,
                "day": last_day,
                "status": series.status_of(budget, last_hour["latency_ms"], slo.latency_ms),
            }
        )
    return summaries
