"""Reads for KPI pages and the API. The caller has the KPI from apps.accounts.access."""

from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from apps.kpis.alerts import latest_complete_point
from apps.kpis.models import KpiAlert, KpiDefinition, KpiPoint
from apps.registry.selectors import models_visible_to


def kpis_visible_to(user) -> QuerySet:
    """KPIs of the models the user may see: every one for IT and admins, their teams' models' for
    data scientists, and for business owners those of the models they sponsor."""
    return KpiDefinition.objects.filter(model__in=models_visible_to(user).values("id"))


def kpi_alerts_visible_to(user) -> QuerySet:
    return KpiAlert.objects.filter(kpi__in=kpis_visible_to(user).values("id"))


def kpi_points(kpi: KpiDefinition, start: datetime | None = None, end: datetime | None = None) -> QuerySet:
    """The KPI's points, oldest first, optionally those whose window starts in ``[start, end)``."""
    qs = kpi.points.order_by("start")
    if start is not None:
        qs = qs.filter(start__gte=start)
    if end is not None:
        qs = qs.filter(start__lt=end)
    return qs


def kpi_summary(kpi: KpiDefinition) -> dict:
    """What a tile shows: the latest complete window with a value (and the one with a value before
    it, for the trend), the window in progress, the open alert and the KPI's own problems."""
    now = timezone.now()
    complete = kpi.points.filter(end__lte=now, value__isnull=False).order_by("-start")
    latest = complete.first()
    previous = complete.filter(start__lt=latest.start).first() if latest else None
    current = kpi.points.filter(end__gt=now, n__gt=0).order_by("-start").first()
    trend = latest.value - previous.value if latest and previous else None
    alert = kpi.alerts.exclude(state=KpiAlert.State.RESOLVED).first()
    notes = [kpi.problem] if kpi.problem else []
    if kpi.unmatched_outcomes:
        notes.append(f"{kpi.unmatched_outcomes} outcomes matched no prediction")
    return {
        "latest": latest,
        "previous": previous,
        "current": current,
        "trend": trend,
        "open_alert": alert,
        "notes": notes,
    }


def kpi_status_counts(kpis) -> dict[str, int]:
    """How many of ``kpis`` have their latest complete window in each status (for a home tile)."""
    counts: dict[str, int] = {}
    for kpi in kpis:
        point = latest_complete_point(kpi)
        status = point.status if point else KpiPoint.Status.INSUFFICIENT
        counts[status] = counts.get(status, 0) + 1
    return counts
