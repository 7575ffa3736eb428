"""Plain data for the data scientists' monitoring pages: the drift heatmap, class shares and
performance over time, the quality findings of a run and the deployments to mark on time charts.

Every function takes a monitor (or run) the caller already fetched through apps.accounts.access,
and returns dicts and lists ready for apps/monitoring/charts.py and the templates.
Reads stay cheap: findings come in one query, and window profiles are read only for the JSON keys
a chart needs (the database extracts them), never whole profiles per hour."""

import hashlib
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db.models import Count, F, Max
from django.db.models.fields.json import KeyTransform
from django.utils import timezone

from apps.deployments.models import Deployment
from apps.monitoring import frames
from apps.monitoring.models import CheckRun, Finding, Monitor, ReferenceProfile, WindowProfile
from apps.monitoring.selectors import alerts_visible_to, monitors_visible_to, page_reference
from apps.monitoring.stats.prediction import class_shares

# The checks drawn as heatmap cells (distribution tests); the rate checks go to the quality table.
DISTRIBUTION_CHECKS = ("drift", "prediction_drift", "score_drift")
QUALITY_CHECKS = ("null_rate", "zero_rate", "out_of_range", "unseen_categories", "type_errors")
# How many runs of each window kind the heatmap shows: two days of hours, two weeks of days.
HEATMAP_RUNS = {"hour": 48, "day": 14, "week": 8}
HISTORY = timedelta(days=7)
FINDING_FIELDS = (
    "run_id",
    "feature",
    "check_name",
    "test",
    "statistic",
    "p_value",
    "adjusted_p",
    "effect_size",
    "effect_name",
    "floor",
    "n_reference",
    "n_current",
    "flagged",
    "severity",
)


def monitors_of_model(user, model) -> list[Monitor]:
    """The model's monitors the user may see: live deployments first, production before staging."""
    monitors = (
        monitors_visible_to(user)
        .filter(deployment__version__model=model)
        .select_related("deployment__endpoint__environment", "deployment__version__model", "template")
    )
    return sorted(
        monitors,
        key=lambda m: (
            m.deployment.status != Deployment.Status.LIVE,
            -m.deployment.endpoint.environment.order,
            -m.pk,
        ),
    )


def open_alerts(user, monitor: Monitor, limit: int = 20):
    """The monitor's unresolved alerts, most recently seen first, with what the rows print loaded."""
    return (
        alerts_visible_to(user)
        .filter(monitor=monitor)
        .exclude(state="resolved")
        .select_related("monitor__deployment__endpoint__environment", "monitor__deployment__version__model")
        .order_by("-last_seen", "-id")[:limit]
    )


def runs_for(monitor: Monitor, window: str, limit: int | None = None) -> list[CheckRun]:
    """The monitor's succeeded runs of one window kind, oldest first (one run per window end: the
    latest, so a window checked twice appears once)."""
    limit = limit or HEATMAP_RUNS.get(window, 48)
    latest: dict[datetime, CheckRun] = {}
    for run in CheckRun.objects.filter(
        monitor=monitor, window=window, status=CheckRun.Status.SUCCEEDED
    ).order_by("-window_end", "-id")[: limit * 3]:
        latest.setdefault(run.window_end, run)
        if len(latest) == limit:
            break
    return sorted(latest.values(), key=lambda r: r.window_end)


def _feature_order(reference: ReferenceProfile | None, seen: list[str]) -> list[str]:
    """Schema order (inputs, then the model's outputs), with anything else seen appended."""
    names = [f["name"] for f in (reference.features if reference else [])]
    return [n for n in names if n in seen] + [n for n in seen if n not in names]


def heatmap(monitor: Monitor, runs: list[CheckRun]) -> dict:
    """Features × runs. Each cell is the feature's distribution test in that run with all of its
    evidence, plus the names of any rate checks flagged for it; None when it was not tested.

        {"features": [...], "runs": [{"id", "start", "end"}], "cells": [[cell | None, ...], ...]}
    """
    rows = Finding.objects.filter(run__in=[r.pk for r in runs]).values(*FINDING_FIELDS)
    cells: dict[tuple[str, int], dict] = {}
    quality_flags: dict[tuple[str, int], list[str]] = {}
    seen: list[str] = []
    for f in rows:
        key = (f["feature"], f["run_id"])
        if f["check_name"] in DISTRIBUTION_CHECKS:
            if f["feature"] not in seen:
                seen.append(f["feature"])
            cells[key] = {**f, "ratio": _ratio(f["effect_size"], f["floor"])}
        elif f["flagged"]:
            quality_flags.setdefault(key, []).append(f["check_name"])
    reference = page_reference(monitor.deployment.version_id)
    features = _feature_order(reference, seen)
    grid = []
    for name in features:
        line = []
        for run in runs:
            cell = cells.get((name, run.pk))
            if cell is not None:
                cell = {**cell, "quality_flags": quality_flags.get((name, run.pk), [])}
            line.append(cell)
        grid.append(line)
    return {
        "features": features,
        "runs": [{"id": r.pk, "start": r.window_start, "end": r.window_end} for r in runs],
        "cells": grid,
    }


def _ratio(effect: float | None, floor: float | None) -> float | None:
    """Effect size in units of its floor: 1 is the smallest effect worth flagging. Different tests
    measure effect on different scales (Wasserstein/σ, Cramér's V, share change), so the heatmap
    colours this ratio; the raw effect is in the hover."""
    if effect is None:
        return None
    if not floor:
        return 3.0 if effect > 0 else 0.0
    return effect / floor


def feature_findings(run: CheckRun, feature: str) -> list[Finding]:
    """Every finding of one feature in one run (distribution test first)."""
    findings = list(run.findings.filter(feature=feature))
    return sorted(findings, key=lambda f: (f.check_name not in DISTRIBUTION_CHECKS, f.check_name))


def quality_table(run: CheckRun | None) -> list[Finding]:
    """The run's data-quality findings, flagged first, then by effect."""
    if run is None:
        return []
    return list(
        run.findings.filter(check_name__in=QUALITY_CHECKS).order_by(
            "-flagged", F("effect_size").desc(nulls_last=True), "feature"
        )
    )


def _profile_key(*keys: str):
    expression = "profile"
    for key in keys:
        expression = KeyTransform(key, expression)
    return expression


def prediction_shares(monitor: Monitor, *, since: datetime, bucket: str = "hour") -> dict | None:
    """The predicted classes' shares per hour (or day) since ``since``, with 95% Wilson intervals,
    against the reference shares. None for a model without classes or before its reference.

        {"classes": [...], "reference": {class: share},
         "points": [{"t", "n", "shares": {class: {"share", "low", "high"}}}]}

    Cached under the reference's build and the windows' count and last update (a window that takes
    new predictions changes the key): the page no longer decodes both profiles' JSON per request."""
    built = (
        ReferenceProfile.objects.filter(
            version_id=monitor.deployment.version_id, status=ReferenceProfile.Status.READY
        )
        .values_list("pk", "built_at")
        .first()
    )
    stamp = WindowProfile.objects.filter(deployment=monitor.deployment, start__gte=since).aggregate(
        n=Count("id"), last=Max("updated_at")
    )
    version = repr((monitor.deployment_id, built, since, bucket, stamp["n"], stamp["last"]))
    key = "prediction-shares:" + hashlib.sha256(version.encode()).hexdigest()
    shares = cache.get(key, "missing")
    if shares == "missing":
        shares = _prediction_shares(monitor, since=since, bucket=bucket)
        cache.set(key, shares, SHARES_CACHE_SECONDS)
    return shares


SHARES_CACHE_SECONDS = 6 * 3600


def _prediction_shares(monitor: Monitor, *, since: datetime, bucket: str) -> dict | None:
    reference = ReferenceProfile.objects.filter(
        version_id=monitor.deployment.version_id, status=ReferenceProfile.Status.READY
    ).first()
    ref = (reference.profile["features"].get(frames.PREDICTION) if reference else None) or {}
    if ref.get("kind") != "categorical":
        return None
    ref_counts = {str(k): v for k, v in ref["categories"].items() if k != "__other__"}
    total = sum(ref_counts.values()) or 1
    buckets: dict[datetime, dict[str, int]] = {}
    windows = (
        WindowProfile.objects.filter(deployment=monitor.deployment, start__gte=since)
        .annotate(counts=_profile_key("features", frames.PREDICTION, "categories"))
        .order_by("start")
        .values_list("start", "counts")
    )
    for start, counts in windows:
        moment = start if bucket == "hour" else start.replace(hour=0)
        into = buckets.setdefault(moment, {})
        for name, n in (counts or {}).items():
            into[str(name)] = into.get(str(name), 0) + int(n)
    classes = list(ref_counts)
    points = []
    for moment, counts in buckets.items():
        classes += [c for c in counts if c not in classes]
        rows = {r["class"]: r for r in class_shares(ref_counts, counts)}
        points.append(
            {
                "t": moment,
                "n": sum(counts.values()),
                "shares": {
                    c: {"share": r["current_share"], "low": r["low"], "high": r["high"]}
                    for c, r in rows.items()
                },
            }
        )
    return {
        "classes": classes,
        "reference": {c: ref_counts.get(c, 0) / total for c in classes},
        "points": points,
    }


def performance_series(runs: list[CheckRun]) -> dict:
    """Per run (window end): realised metrics with their intervals where outcomes exist, and the
    CBPE estimate with its trust verdict. {"realised": {metric: [points]}, "estimated": {...},
    "trust": {"trustworthy", "reason"} | None}"""
    realised: dict[str, list[dict]] = {}
    estimated: dict[str, list[dict]] = {}
    trust = None
    for run in runs:
        perf = run.performance or {}
        for kind, into in (("realised", realised), ("estimated", estimated)):
            block = perf.get(kind) or {}
            for name, metric in (block.get("metrics") or {}).items():
                if metric.get("value") is None:
                    continue
                into.setdefault(name, []).append(
                    {
                        "t": run.window_end,
                        "value": metric["value"],
                        "low": metric.get("low"),
                        "high": metric.get("high"),
                        "n": metric.get("n"),
                    }
                )
        if perf.get("estimated"):
            trust = {
                "trustworthy": perf["estimated"].get("trustworthy"),
                "reason": perf["estimated"].get("reason"),
            }
    return {"realised": realised, "estimated": estimated, "trust": trust}


def deployment_events(monitor: Monitor, *, since: datetime) -> list[dict]:
    """The endpoint's deployments going live or retiring since ``since``, to mark on time charts."""
    events = []
    for d in Deployment.objects.filter(endpoint=monitor.deployment.endpoint).select_related("version"):
        for moment, what in ((d.live_at, "live"), (d.retired_at, "retired")):
            if moment is not None and moment >= since:
                events.append({"t": moment, "label": f"v{d.version.number} {what}"})
    return sorted(events, key=lambda e: e["t"])


def has_predictions(monitor: Monitor) -> bool:
    return WindowProfile.objects.filter(deployment=monitor.deployment).exists()


def history_start(now: datetime | None = None) -> datetime:
    now = now or timezone.now()
    return now.replace(minute=0, second=0, microsecond=0) - HISTORY
