"""The SLA page: one endpoint's service levels over a period against its SLO. IT sees every endpoint,
the workers' CPU and memory and sets SLOs; others see the endpoints access.py lets them see."""

from datetime import timedelta
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from apps.accounts import access, page_cache
from apps.core.pages import error_text
from apps.deployments.selectors import endpoints_visible_to
from apps.sla import selectors, services
from apps.sla.charts import sla_figures
from apps.sla.models import Slo

PERIOD_LABELS = {"1h": "last hour", "6h": "last 6 hours", "24h": "last 24 hours", "7d": "last 7 days"}


class SloForm(forms.Form):
    latency_percentile = forms.TypedChoiceField(choices=Slo.Percentile.choices, coerce=int, initial=99)
    latency_ms = forms.FloatField(label="latency target (ms)")
    availability_percent = forms.FloatField(label="availability target (%)")

    def clean_latency_ms(self):
        value = self.cleaned_data["latency_ms"]
        if value <= 0:
            raise ValidationError("the latency target must be above 0 ms")
        return value

    def clean_availability_percent(self):
        value = self.cleaned_data["availability_percent"]
        if not 0 < value < 100:
            raise ValidationError("the availability target is a percentage above 0 and below 100")
        return value


def _percent(share: float | None, digits: int = 1) -> str:
    return "—" if share is None else f"{100 * share:.{digits}f}%"


def shown(summary: dict) -> dict:
    """The summary's numbers as the page and the IT home print them ("—" when there was no traffic)."""
    latency = summary["latency_ms"]
    return {
        "latency": "—" if latency is None else f"{latency:.1f} ms",
        "availability": _percent(summary["availability"], 3),
        "budget": _percent(summary["budget_remaining"]),
        "compliance": None
        if summary["latency_compliance"] is None
        else _percent(summary["latency_compliance"], 0),
    }


def _choose_endpoint(user, endpoints: list, name: str | None, environment: str | None):
    """The endpoint asked for (404 if the user may not see it), or the first production one."""
    if name:
        return selectors.endpoint_for_user(user, name=name, environment=environment or "production")
    return next(
        (e for e in endpoints if e.environment.name == "production"), endpoints[0] if endpoints else None
    )


def _page(request, *, slo_form=None, status=200):
    user = request.user
    is_it = access.sees_every_model(user)
    endpoints = list(
        endpoints_visible_to(user)
        .select_related("environment", "team")
        .order_by("name", "environment__order")
    )
    endpoint = _choose_endpoint(user, endpoints, request.GET.get("endpoint"), request.GET.get("environment"))
    period_name = request.GET.get("period") or "1h"
    context = {
        "endpoints": endpoints,
        "names": sorted({e.name for e in endpoints}),
        "environments": sorted({e.environment.name for e in endpoints}),
        "endpoint": endpoint,
        "periods": PERIOD_LABELS,
        "period": period_name,
        "is_it": is_it,
    }
    if endpoint is None:
        return render(request, "sla/page.html", context, status=status)
    # The period ends at the end of the current minute rather than this microsecond: roll-ups are
    # per minute, so it holds the same rows, and requests within a minute that find no new data
    # draw the same figures, which the chart cache then serves (apps/core/charts.py).
    now = timezone.now().replace(second=0, microsecond=0) + timedelta(minutes=1)
    try:
        period = selectors.parse_period(period=period_name, now=now)
    except ValidationError as exc:
        messages.error(request, error_text(exc))
        context["period"] = period_name = "1h"
        period = selectors.parse_period(period=period_name, now=now)
    report = selectors.endpoint_report(endpoint, period)
    workers = selectors.worker_report(period) if is_it else None
    slo = report["slo"]
    if is_it and slo_form is None:
        slo_form = SloForm(
            initial={
                "latency_percentile": slo.latency_percentile,
                "latency_ms": slo.latency_ms,
                "availability_percent": slo.availability_percent,
            }
        )
    context.update(
        report=report,
        summary=report["summary"],
        shown=shown(report["summary"]),
        slo=slo,
        period_label=PERIOD_LABELS[period_name],
        has_traffic=report["summary"]["requests"] > 0,
        has_workers=bool(workers),
        charts=sla_figures(report, workers),
        slo_form=slo_form,
    )
    return render(request, "sla/page.html", context, status=status)


@login_required
@page_cache.cached_page()
def sla_page(request):
    return _page(request)


@login_required
@require_POST
def slo_update(request, pk: int):
    endpoint = get_object_or_404(
        endpoints_visible_to(request.user).select_related("environment", "team"), pk=pk
    )
    if not access.sees_every_model(request.user):
        raise PermissionDenied("only IT operators set service-level objectives")
    form = SloForm(request.POST)
    query = {
        "endpoint": endpoint.name,
        "environment": endpoint.environment.name,
        "period": request.POST.get("period") or "1h",
    }
    if form.is_valid():
        try:
            services.slo_set(user=request.user, endpoint=endpoint, **form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, f"SLO of {endpoint.name} ({endpoint.environment}) saved.")
            return redirect(f"{reverse('dashboards:sla')}?{urlencode(query)}")
    request.GET = QueryDict(urlencode(query))  # the page re-rendered for this endpoint, with the errors
    return _page(request, slo_form=form, status=400)
