"""The business dashboard's KPI pages: every KPI the user may see as tiles, one KPI's series with
its annotations, the "what changed" panel and the impact of a version change, the KPI form, and
KPI alerts with people's actions.

Thin views: KPIs come through apps.accounts.access (another model's KPI → 404), reads from
apps.kpis.dashboard and annotations, changes through part 1's services, which check and audit."""

from datetime import datetime, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from apps.accounts import access, page_cache
from apps.core.pages import error_text
from apps.kpis import charts, dashboard
from apps.kpis.annotations import annotations_for
from apps.kpis.forms import KpiForm, initial_for
from apps.kpis.models import KpiAlert
from apps.kpis.selectors import kpi_alerts_visible_to, kpis_visible_to
from apps.registry.selectors import models_visible_to


def tiles_with_sparklines(kpis) -> list:
    """dashboard.tiles with each tile's sparkline figure (JSON) attached, for the tile template."""
    tiles = dashboard.tiles(kpis)
    for tile in tiles:
        tile.spark_json = charts.to_json(charts.cached(charts.sparkline, tile.spark)) if tile.spark else ""
    return tiles


def _definable_models(user):
    return [m for m in models_visible_to(user).order_by("name") if access.can_define_kpis(user, m)]


@login_required
@page_cache.cached_page()
def kpi_list(request):
    """Tiles for every KPI the user may see, grouped by model."""
    kpis = kpis_visible_to(request.user).order_by("model__name", "name")
    return render(
        request,
        "kpis/list.html",
        {
            "tiles": tiles_with_sparklines(kpis),
            "can_define": bool(_definable_models(request.user)),
            "open_alerts": kpi_alerts_visible_to(request.user).exclude(state="resolved").count(),
        },
    )


def _period(request) -> tuple[str, datetime | None]:
    chosen = request.GET.get("period", dashboard.DEFAULT_PERIOD)
    if chosen not in dashboard.PERIODS:
        chosen = dashboard.DEFAULT_PERIOD
    span = dashboard.PERIODS[chosen]
    return chosen, None if span is None else timezone.now() - span


@login_required
@page_cache.cached_page()
def kpi_detail(request, pk: int):
    kpi = dashboard.kpi_for_user(request.user, pk)
    period, since = _period(request)
    now = timezone.now()
    points = dashboard.series(kpi, since=since, now=now)
    start = min([p["start"] for p in points] + ([since] if since else [now - timedelta(days=7)]))
    marks = annotations_for(
        model=kpi.model,
        endpoint=kpi.endpoint,
        environment=kpi.environment,
        start=start,
        end=now + timedelta(hours=1),
        kpi=kpi,
    )
    impact = _impact(request, kpi)
    figures = charts.figures(
        series=charts.cached(charts.series_chart, kpi, points, marks) if points else None,
        breakdown=charts.cached(
            charts.breakdown_chart,
            kpi,
            impact["result"]["segments"],
            impact["segment"],
            (impact["result"]["before_label"], impact["result"]["after_label"]),
        )
        if impact.get("result") and impact["result"].get("segments")
        else None,
    )
    return render(
        request,
        "kpis/detail.html",
        {
            "kpi": kpi,
            "band": dashboard.band_text(kpi),
            "target": dashboard.format_value(kpi, kpi.target) if kpi.target is not None else "",
            "period": period,
            "periods": list(dashboard.PERIODS),
            "points": points[::-1],
            "annotations": marks,
            "changed": dashboard.what_changed(kpi, points, marks),
            "charts": figures,
            "impact": impact,
            "alerts": KpiAlert.objects.filter(kpi=kpi).order_by("-last_seen")[:10],
            "can_edit": access.can_define_kpis(request.user, kpi.model),
        },
    )


def _impact(request, kpi) -> dict:
    """The impact section: the version changes to choose from, the chosen one (the latest by
    default) and, when part 1's kpi_impact answers, its result shaped for the template; an error
    in the request (a bad segment field, a change with no data) is shown, never a 500."""
    from apps.kpis import impact_page

    return impact_page.impact_for_page(kpi, request.GET)


@login_required
def kpi_create(request):
    models = _definable_models(request.user)
    if not models:
        raise PermissionDenied(
            "only a model's data scientists or the business owner who sponsors it define KPIs"
        )
    queryset = models_visible_to(request.user).filter(pk__in=[m.pk for m in models])
    form = KpiForm(request.POST or None, models=queryset, initial={"model": models[0].pk, "unit": "percent"})
    if request.method == "POST" and form.is_valid():
        from apps.kpis.services import kpi_create as create

        try:
            kpi = create(user=request.user, model=form.cleaned_data["model"], **form.definition())
        except ValidationError as exc:
            form.add_service_errors(exc.message_dict)
        else:
            messages.success(request, f"KPI “{kpi.name}” defined; its points are being computed.")
            return redirect("kpis:detail", pk=kpi.pk)
    return render(request, "kpis/form.html", {"form": form, "kpi": None})


@login_required
def kpi_edit(request, pk: int):
    kpi = dashboard.kpi_for_user(request.user, pk)
    if not access.can_define_kpis(request.user, kpi.model):
        raise PermissionDenied("only the model's data scientists or the business owner who sponsors it")
    queryset = models_visible_to(request.user).filter(pk=kpi.model_id)
    form = KpiForm(request.POST or None, models=queryset, initial=initial_for(kpi), editing=True)
    if request.method == "POST" and form.is_valid():
        from apps.kpis.services import kpi_update

        try:
            kpi = kpi_update(user=request.user, kpi=kpi, **form.definition())
        except ValidationError as exc:
            form.add_service_errors(exc.message_dict)
        else:
            messages.success(request, f"KPI “{kpi.name}” saved.")
            return redirect("kpis:detail", pk=kpi.pk)
    return render(request, "kpis/form.html", {"form": form, "kpi": kpi})


@login_required
@page_cache.cached_page()
def alert_list(request):
    state = request.GET.get("state", "open")
    alerts = kpi_alerts_visible_to(request.user).select_related("kpi__model", "latest_point")
    if state in KpiAlert.State.values:
        alerts = alerts.filter(state=state)
    alerts = list(alerts.prefetch_related("actions__actor").order_by("-last_seen", "-id")[:100])
    for a in alerts:
        a.can_act = access.can_act_on_kpi_alert(request.user, a)
    return render(
        request,
        "kpis/alerts.html",
        {"alerts": alerts, "state": state, "states": KpiAlert.State.values},
    )


@login_required
@require_POST
def alert_act(request, pk: int):
    """acknowledge / resolve / note with a reason, through part 1's service (which checks who may
    and records who, what and why)."""
    from apps.kpis.alerts import kpi_alert_act

    alert = get_object_or_404(kpi_alerts_visible_to(request.user).select_related("kpi__model"), pk=pk)
    try:
        kpi_alert_act(
            user=request.user,
            alert=alert,
            action=request.POST.get("action", ""),
            reason=request.POST.get("reason", ""),
        )
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, f"KPI alert #{alert.pk}: {error_text(exc)}")
    else:
        messages.success(request, f"KPI alert #{alert.pk}: {request.POST.get('action')} recorded.")
    return redirect(reverse("kpis:alert-list") + f"?state=all#kpi-alert-{alert.pk}")
