"""Plain data for the business dashboard and the KPI pages: tiles (latest complete window, target,
band, trend, sparkline, status and problems), a KPI's series for a period, and the "what changed"
panel that puts a KPI movement next to the data scientists' findings of the same period.

Every function takes KPIs the caller fetched through apps.accounts.access (kpis_visible_to);
links to monitoring alerts are to pages the same people may open (alerts follow the model)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Max, Q
from django.urls import reverse
from django.utils import timezone

from apps.core.severity import SEVERITY_RANK
from apps.kpis.formatting import format_value
from apps.kpis.models import KpiAlert, KpiDefinition, KpiPoint
from apps.kpis.selectors import kpis_visible_to
from apps.kpis.tile_windows import tile_windows
from apps.monitoring.display_names import check_display, feature_phrase, window_label, window_times

__all__ = ["format_value"]  # re-exported for the views and templates

SPARK_POINTS = 14
MAX_NAMED = 4  # features and alerts named in the what-changed sentence; the list below has all
PERIODS = {"7d": timedelta(days=7), "30d": timedelta(days=30), "90d": timedelta(days=90), "all": None}
DEFAULT_PERIOD = "30d"


def format_change(kpi: KpiDefinition, delta: float | None) -> str:
    """A difference: percentage points for percent KPIs."""
    if delta is None:
        return "–"
    sign = "+" if delta > 0 else "−" if delta < 0 else "±"
    if kpi.unit == KpiDefinition.Unit.PERCENT:
        return f"{sign}{100 * abs(delta):.{kpi.decimals}f} pts"
    return sign + format_value(kpi, abs(delta))


def band_text(kpi: KpiDefinition) -> str:
    low, high = kpi.band_low, kpi.band_high
    if low is not None and high is not None:
        return f"{format_value(kpi, low)} – {format_value(kpi, high)}"
    if low is not None:
        return f"≥ {format_value(kpi, low)}"
    if high is not None:
        return f"≤ {format_value(kpi, high)}"
    return "no band"


def point_data(kpi: KpiDefinition, p: KpiPoint, now: datetime) -> dict:
    return {
        "id": p.pk,
        "start": p.start,
        "end": p.end,
        "label": window_label(p.start, p.end),
        "dates": window_times(p.start, p.end),
        "value": p.value,
        "shown": format_value(kpi, p.value),
        "low": p.interval_low,
        "high": p.interval_high,
        "interval": f"{format_value(kpi, p.interval_low)} – {format_value(kpi, p.interval_high)}"
        if p.interval_low is not None
        else "",
        "status": p.status,
        "message": p.message,
        "n": p.n,
        "labelled": p.labelled,
        "numerator": p.numerator,
        "denominator": p.denominator,
        "revisions": p.revisions,
        "complete": p.end <= now,
    }


def series(kpi: KpiDefinition, *, since: datetime | None = None, now: datetime | None = None) -> list[dict]:
    """The KPI's points from ``since`` (all when None), oldest first, the current window included
    (``complete`` False)."""
    now = now or timezone.now()
    points = KpiPoint.objects.filter(kpi=kpi).order_by("start")
    if since is not None:
        points = points.filter(end__gt=since)
    return [point_data(kpi, p, now) for p in points]


@dataclass
class Tile:
    """What a KPI tile shows (see apps/kpis/tile_windows.py for which windows)."""

    kpi: KpiDefinition
    latest: dict | None  # the latest complete window with a value: the number and the colour
    previous: dict | None  # the complete window with a value before it: the trend
    partial: dict | None  # the window in progress, if it has predictions: labelled partial
    spark: list[dict]
    unvalued: dict | None = None  # a newer complete window without a value, said as a note
    alert: dict | None = None  # the KPI's unresolved alert: {id, state, severity, summary, url}
    spark_json: str = ""  # the sparkline figure, attached by the views

    @property
    def trend(self) -> str:
        """▲ / ▼ / ▶ against the previous complete window with a value."""
        if not self.latest or not self.previous:
            return ""
        a, b = self.previous["value"], self.latest["value"]
        return "▲" if b > a else "▼" if b < a else "▶"

    @property
    def change(self) -> str:
        if self.trend:
            return format_change(self.kpi, self.latest["value"] - self.previous["value"])
        return ""

    @property
    def status(self) -> str:
        if self.kpi.problem:
            return "error"
        if self.latest:
            return self.latest["status"]
        return self.unvalued["status"] if self.unvalued else "insufficient"

    @property
    def value(self) -> str:
        return self.latest["shown"] if self.latest else "–"

    @property
    def band(self) -> str:
        return band_text(self.kpi)

    @property
    def target(self) -> str:
        return format_value(self.kpi, self.kpi.target) if self.kpi.target is not None else ""


def tiles(kpis, *, now: datetime | None = None) -> list[Tile]:
    """One tile per KPI, in four queries whatever the number of KPIs: the KPIs; each one's latest
    window, latest complete window and latest complete window with a value, however old; the
    points of the last SPARK_POINTS windows up to each of those; and the unresolved KPI alerts."""
    now = now or timezone.now()
    kpis = list(kpis.select_related("model"))
    span = {KpiDefinition.Window.DAY: timedelta(days=1), KpiDefinition.Window.WEEK: timedelta(weeks=1)}
    marks = {
        row["kpi"]: row
        for row in KpiPoint.objects.filter(kpi__in=[k.pk for k in kpis])
        .values("kpi")
        .annotate(
            last=Max("start"),
            complete=Max("start", filter=Q(end__lte=now)),
            valued=Max("start", filter=Q(end__lte=now, value__isnull=False)),
        )
    }
    recent = Q(pk__in=[])
    for k in kpis:
        if k.pk not in marks:
            continue
        back = span[k.window] * (SPARK_POINTS + 1)
        recent |= Q(kpi=k.pk, start__gte=marks[k.pk]["last"] - back)
        # However old they are: the latest complete window (and the sparkline's before it) and
        # the latest with a value (and the one before it, for the trend): never "–" for want of
        # reading far enough back.
        for mark in (marks[k.pk]["complete"], marks[k.pk]["valued"]):
            if mark is not None:
                recent |= Q(kpi=k.pk, start__gte=mark - back, start__lte=mark)
    by_kpi: dict[int, list[KpiPoint]] = {k.pk: [] for k in kpis}
    for p in KpiPoint.objects.filter(recent).order_by("start"):
        by_kpi[p.kpi_id].append(p)
    alerts = {
        a.kpi_id: {
            "id": a.pk,
            "state": a.state,
            "severity": a.severity,
            "summary": a.summary,
            "url": reverse("kpis:alert-list") + f"?state=all#kpi-alert-{a.pk}",
        }
        for a in KpiAlert.objects.filter(kpi__in=[k.pk for k in kpis]).exclude(state=KpiAlert.State.RESOLVED)
    }
    out = []
    for kpi in kpis:
        chosen = tile_windows([point_data(kpi, p, now) for p in by_kpi[kpi.pk]], spark_points=SPARK_POINTS)
        out.append(
            Tile(
                kpi=kpi,
                latest=chosen.latest,
                previous=chosen.previous,
                partial=chosen.partial,
                spark=chosen.spark,
                unvalued=chosen.unvalued,
                alert=alerts.get(kpi.pk),
            )
        )
    return out


def kpi_for_user(user, pk: int) -> KpiDefinition:
    from django.shortcuts import get_object_or_404

    return get_object_or_404(kpis_visible_to(user).select_related("model", "owner", "created_by"), pk=pk)


def _moved_most(points: list[dict]) -> tuple[dict, dict] | None:
    """(before, after): the latest complete window that left the band (against the window before
    it), or else the largest change between consecutive complete windows."""
    valued = [p for p in points if p["complete"] and p["value"] is not None]
    if len(valued) < 2:
        return None
    pairs = list(zip(valued[:-1], valued[1:], strict=True))
    for before, after in reversed(pairs):
        if after["status"] == "out_of_band" and before["status"] != "out_of_band":
            return before, after
    return max(pairs, key=lambda pair: abs(pair[1]["value"] - pair[0]["value"]))


def what_changed(kpi: KpiDefinition, points: list[dict], annotations: list[dict]) -> dict | None:
    """The period where the KPI moved most (or left its band), the flagged monitoring findings of
    the model's deployments on the KPI's endpoint whose windows overlap it, the alerts they belong
    to (linked), and the deployment events of the period, with one sentence saying it:

        "Approval rate fell from 79.6% to 67.2% on 2025-11-26 (band 75.0% – 86.0%) while drift in
        Home and Income was flagged (alert #12, #13)."
    """
    from apps.deployments.models import Deployment
    from apps.monitoring.models import Alert, Finding

    moved = _moved_most(points)
    if moved is None:
        return None
    before, after = moved
    start, end = after["start"], after["end"]
    deployments = Deployment.objects.filter(
        version__model_id=kpi.model_id,
        endpoint__name=kpi.endpoint,
        endpoint__environment__name=kpi.environment,
    ).values("id")
    flagged = list(
        Finding.objects.filter(
            flagged=True,
            run__monitor__deployment__in=deployments,
            run__window_start__lt=end,
            run__window_end__gt=start,
        )
        .values("run__monitor_id", "check_name", "feature")
        .distinct()
    )
    # One query on the three columns' sets, narrowed to the exact triples here: an OR of one
    # clause per finding cost tens of milliseconds to compile on a page with many findings.
    keys = {(f["run__monitor_id"], f["check_name"], f["feature"]) for f in flagged}
    candidates = Alert.objects.filter(
        monitor_id__in={k[0] for k in keys},
        check_name__in={k[1] for k in keys},
        feature__in={k[2] for k in keys},
    )
    alerts = [
        a
        for a in candidates.select_related("monitor__deployment__version").order_by("check_name", "feature")
        if (a.monitor_id, a.check_name, a.feature) in keys
    ]
    features: dict[str, set[str]] = {}
    for f in flagged:
        features.setdefault(f["check_name"], set()).add(f["feature"])
    events = [
        a for a in annotations if a["kind"] not in ("alert", "decision") and before["start"] <= a["ts"] < end
    ]
    delta = after["value"] - before["value"]
    verb = "rose" if delta > 0 else "fell" if delta < 0 else "stayed"
    sentence = f"{kpi.name} {verb} from {before['shown']} to {after['shown']} on {after['label']}" + (
        f" (band {band_text(kpi)})" if after["status"] == "out_of_band" else ""
    )
    # Strongest first: features by their alerts' severity, then name; long lists are cut.
    severity = {(a.check_name, a.feature): -SEVERITY_RANK.get(a.severity, 0) for a in alerts}
    drift = sorted(features.get("drift", set()), key=lambda f: (severity.get(("drift", f), 0), f))
    others = [
        f"{check_display(check)} of {_name(feature)}"
        for check, feature in sorted(
            ((c, f) for c, names in features.items() if c != "drift" for f in names),
            key=lambda cf: (severity.get(cf, 0), cf),
        )
    ]
    found = []
    if drift:
        found.append(f"drift in {_and(drift, MAX_NAMED)} was flagged")
    if others:
        found.append(f"{_and(others, 2)} {'was' if len(others) == 1 else 'were'} flagged")
    if found:
        refs = ", ".join(
            f"#{a.pk}" for a in sorted(alerts, key=lambda a: -SEVERITY_RANK.get(a.severity, 0))[:MAX_NAMED]
        )
        more = f" and {len(alerts) - MAX_NAMED} more" if len(alerts) > MAX_NAMED else ""
        sentence += " while " + " and ".join(found) + (f" (alert {refs}{more})" if refs else "")
    elif not events:
        sentence += "; no finding of the data scientists' monitoring overlaps that window"
    if events:
        sentence += "; in the same period: " + "; ".join(e["label"] for e in events)
    return {
        "before": before,
        "after": after,
        "change": format_change(kpi, delta),
        "sentence": sentence + ".",
        "features": features,
        "alerts": [
            {
                "id": a.pk,
                "url": reverse("monitoring:alert-detail", args=[a.pk]),
                "summary": a.summary,
                "severity": a.severity,
                "state": a.state,
            }
            for a in alerts
        ],
        "events": events,
    }


def _name(feature: str) -> str:
    return feature_phrase(feature)


def _and(names: list[str], limit: int = 99) -> str:
    names = [_name(n) for n in names]
    if len(names) > limit:
        names = [*names[:limit], f"{len(names) - limit} more"]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
