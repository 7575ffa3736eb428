"""The KPI page's impact section: which version changes can be compared, the chosen one, and part
1's ``kpi_impact`` answer shaped for the template (values formatted in the KPI's unit, the
difference with its interval, and the breakdown by a segment field).

A primary going live is compared before/after (``DEFAULT_DAYS`` each side); a canary compares its
arm with the primary that served beside it while it ran. By default the latest change that has
predictions on both sides is shown (cheap existence queries decide which), so a deployment that
went live a moment ago does not hide the last change that can be measured.

The answer streams every prediction of two weeks (about a second for the demo's credit KPIs), so it
is cached under the KPI's data version: its definition, its points' count and last recompute
(a roll-up recomputes a window whenever predictions or outcomes of it arrive), and the changes
compared. New data is a new version, hence a new key; the roll-up computes the default section
right after it writes points (``impact_warm``), so the page finds it ready."""

import hashlib
from datetime import timedelta

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db.models import Count, Max
from django.utils import timezone

from apps.core.pages import error_text
from apps.deployments.models import Deployment
from apps.kpis.dashboard import format_change, format_value
from apps.kpis.impact import DEFAULT_DAYS, kpi_impact
from apps.kpis.models import KpiDefinition
from apps.kpis.rollup import scoped_predictions

MAX_SEGMENT_FIELDS = 20


def _changes(kpi: KpiDefinition) -> list[Deployment]:
    return list(
        Deployment.objects.filter(
            version__model_id=kpi.model_id,
            endpoint__name=kpi.endpoint,
            endpoint__environment__name=kpi.environment,
            live_at__isnull=False,
            role__in=[Deployment.Role.PRIMARY, Deployment.Role.CANARY],
        )
        .select_related("version", "endpoint__environment")
        .order_by("-live_at", "-id")
    )


def primary_beside(canary: Deployment) -> Deployment | None:
    """The primary that answered the rest of the traffic when the canary went live."""
    return (
        Deployment.objects.filter(
            endpoint_id=canary.endpoint_id, role=Deployment.Role.PRIMARY, live_at__lte=canary.live_at
        )
        .exclude(retired_at__lte=canary.live_at)
        .select_related("version", "endpoint__environment")
        .order_by("-live_at")
        .first()
    )


def _label(d: Deployment) -> str:
    if d.role == Deployment.Role.CANARY:
        until = f" – {d.retired_at:%Y-%m-%d %H:%M}" if d.retired_at else ", still running"
        return f"canary v{d.version.number} ({d.traffic_percent:g}%), {d.live_at:%Y-%m-%d %H:%M}{until}"
    return f"v{d.version.number} live {d.live_at:%Y-%m-%d %H:%M}"


def _measurable(kpi: KpiDefinition, d: Deployment) -> bool:
    """Predictions on both sides of the change (existence queries only)."""
    logged = scoped_predictions(kpi)
    if d.role == Deployment.Role.CANARY:
        primary = primary_beside(d)
        end = d.retired_at or timezone.now()
        span = logged.filter(ts__gte=d.live_at, ts__lt=end)
        return primary is not None and all(span.filter(deployment_id=x).exists() for x in (primary.pk, d.pk))
    span = timedelta(days=DEFAULT_DAYS)
    before = logged.filter(ts__gte=d.live_at - span, ts__lt=d.live_at).exists()
    return before and logged.filter(ts__gte=d.live_at, ts__lt=d.live_at + span).exists()


def segment_fields(kpi: KpiDefinition) -> list[str]:
    """Segment fields offered: the predicted class and the model's categorical and yes/no inputs."""
    version = kpi.model.versions.order_by("-number").first()
    features = (version.input_schema or {}).get("features", []) if version else []
    wanted = [f"inputs.{f['name']}" for f in features if f.get("type") in ("categorical", "boolean")]
    return ["prediction", *wanted[:MAX_SEGMENT_FIELDS]]


def _shape(kpi: KpiDefinition, change: Deployment, answer: dict) -> dict:
    def side(s: dict) -> dict:
        return {**s, "shown": format_value(kpi, s["value"]), "n": s["rows"]}

    diff, low, high = answer["difference"], answer["low"], answer["high"]
    interval = (
        f"{format_change(kpi, low)} to {format_change(kpi, high)}" if low is not None else "no interval"
    )
    verdict = ""
    if low is not None and high is not None:
        verdict = (
            "the interval excludes zero: a real change"
            if low > 0 or high < 0
            else "the interval includes zero: no change shown"
        )
    if answer["mode"] == "canary":
        primary = primary_beside(change)
        before_label = f"v{primary.version.number} (primary)" if primary else "primary"
        after_label = f"v{change.version.number} (canary)"
        question = (
            f"{kpi.name} of the two arms while canary v{change.version.number} ran "
            f"({answer['before']['start'][:16]} – {answer['before']['end'][:16]} UTC), canary minus primary:"
        )
    else:
        before_label, after_label = f"{DEFAULT_DAYS} days before", "after"
        question = f"{kpi.name} before and after v{change.version.number} went live, after minus before:"
    segments = [
        {
            **row,
            "before_shown": format_value(kpi, row["before"]["value"]),
            "after_shown": format_value(kpi, row["after"]["value"]),
            "difference_shown": format_change(kpi, row["difference"]),
            "interval_shown": f"{format_change(kpi, row['low'])} to {format_change(kpi, row['high'])}"
            if row["low"] is not None
            else "no interval",
        }
        for row in answer["segments"]
    ]
    return {
        "question": question,
        "before_label": before_label,
        "after_label": after_label,
        "before": side(answer["before"]),
        "after": side(answer["after"]),
        "difference": format_change(kpi, diff),
        "interval": interval,
        "raw": answer,
        "method": f"{answer['method']}, {round(100 * answer['confidence'])}% interval",
        "verdict": verdict,
        "segments": segments,
    }


IMPACT_CACHE_SECONDS = 24 * 3600


def _cache_key(kpi: KpiDefinition, changes: list[Deployment], change: str, segment: str) -> str:
    points = kpi.points.aggregate(n=Count("id"), last=Max("computed_at"))
    version = [
        kpi.pk,
        kpi.updated_at.isoformat() if kpi.updated_at else "",
        points["n"],
        points["last"].isoformat() if points["last"] else "",
        [(d.pk, d.role, d.traffic_percent, str(d.live_at), str(d.retired_at)) for d in changes],
        change,
        segment,
    ]
    return "kpi-impact:" + hashlib.sha256(repr(version).encode()).hexdigest()


def impact_for_page(kpi: KpiDefinition, params) -> dict:
    """{choices, change, fields, segment, result | None, error}: never raises for bad input.
    Cached under the KPI's data version (see the module's docstring)."""
    changes = _changes(kpi)
    key = _cache_key(kpi, changes, params.get("change") or "", params.get("segment") or "")
    out = cache.get(key)
    if out is None:
        out = _impact_for_page(kpi, params, changes)
        cache.set(key, out, IMPACT_CACHE_SECONDS)
    return out


def impact_warm(kpi: KpiDefinition) -> None:
    """Compute the page's default impact section (the latest measurable change, no segment) now,
    in the roll-up task, so that no page request pays for it."""
    impact_for_page(kpi, {})


def _impact_for_page(kpi: KpiDefinition, params, changes: list[Deployment]) -> dict:
    out = {
        "choices": [{"id": d.pk, "label": _label(d)} for d in changes],
        "fields": segment_fields(kpi),
        "segment": params.get("segment") or "",
        "change": None,
        "result": None,
        "error": "",
    }
    if not changes:
        return out
    chosen = None
    if params.get("change"):
        chosen = next((d for d in changes if str(d.pk) == params["change"]), None)
        if chosen is None:
            out["error"] = (
                f"change {params['change']!r} is not a deployment of {kpi.model.name} on {kpi.endpoint}"
            )
            return out
    else:
        chosen = next((d for d in changes[:5] if _measurable(kpi, d)), changes[0])
    out["change"] = chosen.pk
    try:
        if chosen.role == Deployment.Role.CANARY:
            primary = primary_beside(chosen)
            if primary is None:
                raise ValidationError({"arms": "no primary served beside this canary"})
            answer = kpi_impact(kpi=kpi, arms=(primary, chosen), segment=out["segment"] or None)
        else:
            answer = kpi_impact(kpi=kpi, deployment=chosen, segment=out["segment"] or None)
    except ValidationError as exc:
        out["error"] = error_text(exc)
        return out
    out["result"] = _shape(kpi, chosen, answer)
    return out
