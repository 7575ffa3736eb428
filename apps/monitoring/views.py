"""The data scientists' monitoring pages: per model, the drift heatmap, a feature's distribution,
class shares, scores and performance over time, data quality and open alerts; the alert pages with
people's actions; a monitor's settings and "run check now".

Thin views: objects come through apps.accounts.access (another team's → 404), reads from
apps.monitoring.dashboard/selectors, changes through the platform's services (actions.alert_act,
services.monitor_update, runs.check_run_enqueue), which record and audit them."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from apps.accounts import access, page_cache
from apps.core.pages import error_text
from apps.monitoring import charts, dashboard, frames, selectors, services
from apps.monitoring.actions import alert_act, can_act_on_alert
from apps.monitoring.alerts import evidence_period
from apps.monitoring.config import WINDOWS
from apps.monitoring.display_names import feature_display, window_label, window_noun, window_times, zone_name
from apps.monitoring.forms import AlertActionForm, MonitorSettingsForm
from apps.monitoring.models import Alert, AlertAction, CheckRun, Monitor
from apps.monitoring.selectors import alerts_visible_to, monitors_visible_to
from apps.registry import selectors as registry_selectors

ACTION_HELP = {
    "acknowledge": "someone is looking at it",
    "resolve": "dealt with, or not a problem",
    "request_retraining": "the owning team is notified; the alert stays acknowledged",
    "rollback": "the endpoint's previous version serves again",
    "retire": "this deployment stops serving",
    "rebaseline": "accept the alert's window as the new normal: later runs compare against it",
}
PERFORMANCE_METRICS = {"classification": ("roc_auc", "accuracy"), "regression": ("rmse", "mae")}


def _monitor_for(user, pk: int) -> Monitor:
    return get_object_or_404(
        monitors_visible_to(user).select_related(
            "deployment__endpoint__environment", "deployment__version__model__team", "template"
        ),
        pk=pk,
    )


def _window(request, monitor: Monitor | None) -> str:
    chosen = request.GET.get("window")
    if chosen in WINDOWS:
        return chosen
    configured = (monitor.config.get("windows") if monitor else None) or ["day"]
    return "day" if "day" in configured else configured[0]


@login_required
@page_cache.cached_page()
def overview(request):
    """Every monitored model the user may see, with its monitors and unresolved alerts."""
    monitors = (
        monitors_visible_to(request.user)
        .select_related("deployment__endpoint__environment", "deployment__version__model__team")
        .annotate(
            unresolved=Count("alerts", filter=~Q(alerts__state=Alert.State.RESOLVED)),
            high=Count(
                "alerts",
                filter=~Q(alerts__state=Alert.State.RESOLVED) & Q(alerts__severity=Alert.Severity.HIGH),
            ),
        )
        .order_by("deployment__version__model__name", "deployment__endpoint__name", "-id")
    )
    return render(request, "monitoring/overview.html", {"monitors": monitors})


@login_required
@page_cache.cached_page("monitoring", "deployments", "registry", "jobs")
def model_monitoring(request, pk: int):
    """The monitoring page of one model: one of its monitors (a deployment) at a time."""
    model = registry_selectors.model_for_user(request.user, pk)
    monitors = dashboard.monitors_of_model(request.user, model)
    monitor = None
    if request.GET.get("monitor"):
        monitor = next((m for m in monitors if str(m.pk) == request.GET["monitor"]), None)
        if monitor is None:
            raise Http404("no such monitor of this model")
    elif monitors:
        monitor = monitors[0]
    window = _window(request, monitor)
    context = {"model": model, "monitors": monitors, "monitor": monitor, "window": window, "windows": WINDOWS}
    if monitor is not None:
        context.update(_monitor_context(request, monitor, window))
    return render(request, "monitoring/model.html", context)


def _monitor_context(request, monitor: Monitor, window: str) -> dict:
    since = dashboard.history_start()
    runs = dashboard.runs_for(monitor, window)
    latest = runs[-1] if runs else None
    heat = dashboard.heatmap(monitor, runs)
    events = dashboard.deployment_events(monitor, since=since)
    shares = dashboard.prediction_shares(monitor, since=since, bucket="hour" if window == "hour" else "day")
    perf = dashboard.performance_series(runs)
    task_type = monitor.deployment.version.model.task_type
    metric_names = PERFORMANCE_METRICS["regression" if task_type == "regression" else "classification"]
    feature = request.GET.get("feature") or _first_flagged(heat) or (heat["features"] or [None])[0]
    score = selectors.feature_distributions(monitor, frames.SCORE, window=window) if latest else None
    figures = charts.figures(
        heatmap=charts.cached(charts.heatmap_chart, heat, window, zone_name()) if heat["features"] else None,
        shares=charts.cached(charts.shares_chart, shares, events) if shares and shares["points"] else None,
        score=charts.cached(
            charts.distribution_chart, score, f"Score, reference vs the last {window_noun(window)}"
        )
        if score
        else None,
        performance=charts.cached(charts.performance_chart, perf, events, metric_names)
        if perf["realised"] or perf["estimated"]
        else None,
    )
    return {
        "runs": runs,
        "latest": latest,
        "heat": heat,
        "has_predictions": dashboard.has_predictions(monitor),
        "last_run": CheckRun.objects.filter(monitor=monitor).order_by("-created_at", "-id").first(),
        "quality": dashboard.quality_table(latest),
        "trust": perf["trust"],
        "has_realised": bool(perf["realised"]),
        "charts": figures,
        "alerts": dashboard.open_alerts(request.user, monitor),
        "can_edit": services.can_edit_monitor(request.user, monitor),
        "can_run": services.can_edit_monitor(request.user, monitor) or access.sees_every_model(request.user),
        "panel": _feature_panel(monitor, latest, feature) if latest and feature else None,
        "feature_names": heat["features"],
        "flagged_latest": [
            name
            for name, line in zip(heat["features"], heat["cells"], strict=True)
            if line and line[-1] and line[-1]["flagged"]
        ],
    }


def _first_flagged(heat: dict) -> str | None:
    """The feature whose latest window is flagged with the largest effect ÷ floor, if any."""
    best, best_ratio = None, 0.0
    for name, line in zip(heat["features"], heat["cells"], strict=True):
        cell = line[-1] if line else None
        if cell and cell["flagged"] and (cell["ratio"] or 0) > best_ratio:
            best, best_ratio = name, cell["ratio"] or 0
    return best


def _feature_panel(monitor: Monitor, run: CheckRun, feature: str) -> dict:
    """One feature in one run: the reference-versus-window chart and every test of the feature."""
    dist = selectors.feature_distributions(monitor, feature, window=run.window, end=run.window_end)
    title = f"{feature_display(feature)}: reference vs {window_label(run.window_start, run.window_end)}"
    return {
        "feature": feature,
        "label": feature_display(feature),
        "period": window_label(run.window_start, run.window_end),
        "times": window_times(run.window_start, run.window_end),
        "run": run,
        "dist": dist,
        "findings": dashboard.feature_findings(run, feature),
        "charts": charts.figures(
            distribution=charts.cached(charts.distribution_chart, dist, title) if dist else None
        ),
    }


@login_required
@page_cache.cached_page("monitoring", "deployments", "registry")
def feature_panel(request, pk: int):
    """htmx fragment: a feature's distribution in a run (a heatmap cell clicked, a feature picked)."""
    monitor = _monitor_for(request.user, pk)
    run_id = request.GET.get("run") or ""
    if run_id and not run_id.isdigit():
        raise Http404(f"'{run_id}' is not a check run number")
    runs = CheckRun.objects.filter(monitor=monitor, status=CheckRun.Status.SUCCEEDED)
    run = get_object_or_404(runs, pk=run_id) if run_id else runs.order_by("-window_end", "-id").first()
    feature = request.GET.get("feature", "")
    if run is None or not feature:
        raise Http404("pick a feature of a finished check run")
    panel = _feature_panel(monitor, run, feature)
    if panel["dist"] is None and not panel["findings"]:
        raise Http404(f"'{feature}' is not a feature this monitor checks")
    return render(request, "monitoring/_feature_panel.html", {"panel": panel, "monitor": monitor})


# --- alerts ---------------------------------------------------------------------------------


@login_required
@page_cache.cached_page()
def alert_list(request):
    state = request.GET.get("state") or "open"
    alerts = alerts_visible_to(request.user).select_related(
        "monitor__deployment__endpoint__environment", "monitor__deployment__version__model"
    )
    counts = dict(alerts.order_by().values_list("state").annotate(n=Count("id")).values_list("state", "n"))
    if state in Alert.State.values:
        alerts = alerts.filter(state=state)
    return render(
        request,
        "monitoring/alert_list.html",
        {
            "alerts": alerts.order_by("-last_seen", "-id")[:200],
            "state": state,
            "states": [(s, counts.get(s, 0)) for s in Alert.State.values],
        },
    )


def _alert_for(user, pk: int) -> Alert:
    return get_object_or_404(
        alerts_visible_to(user).select_related(
            "monitor__deployment__endpoint__environment",
            "monitor__deployment__version__model__team",
            "latest_run",
        ),
        pk=pk,
    )


def _alert_page(request, alert: Alert, *, failed_form: AlertActionForm | None = None, status: int = 200):
    can_act = can_act_on_alert(request.user, alert)
    forms = []
    if can_act and alert.state != Alert.State.RESOLVED:
        for kind, label in AlertAction.Kind.choices:
            if kind == "acknowledge" and alert.state != Alert.State.OPEN:
                continue
            if failed_form is not None and failed_form.data.get("action") == kind:
                form = failed_form
            else:
                form = AlertActionForm(initial={"action": kind}, auto_id=f"id_{kind}_%s")
            forms.append({"kind": kind, "label": label, "help": ACTION_HELP[kind], "form": form})
    run = alert.latest_run
    panel = None
    if run is not None and run.status == CheckRun.Status.SUCCEEDED:
        panel = _feature_panel(alert.monitor, run, alert.feature)
    return render(
        request,
        "monitoring/alert_detail.html",
        {
            "alert": alert,
            "monitor": alert.monitor,
            "model": alert.monitor.deployment.version.model,
            "run": run,
            "panel": panel,
            "forms": forms,
            "can_act": can_act,
            "history": alert.actions.select_related("actor").order_by("created_at", "id"),
            "evidence_label": feature_display(alert.feature),
            "evidence_period": evidence_period(alert.evidence),
        },
        status=status,
    )


@login_required
@page_cache.cached_page()
def alert_detail(request, pk: int):
    return _alert_page(request, _alert_for(request.user, pk))


@login_required
@require_POST
def alert_action(request, pk: int):
    """A person's decision on the alert, through actions.alert_act (recorded with who and why)."""
    alert = _alert_for(request.user, pk)
    if not can_act_on_alert(request.user, alert):
        raise PermissionDenied("only the model's data scientists or IT may act on its alerts")
    kind = request.POST.get("action", "")
    form = AlertActionForm(request.POST, auto_id=f"id_{kind}_%s")
    if form.is_valid():
        try:
            record = alert_act(
                user=request.user,
                alert=alert,
                action=form.cleaned_data["action"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            form.add_service_error(exc)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"{record.get_action_display()} recorded, by {request.user.username}.")
            return redirect("monitoring:alert-detail", pk=alert.pk)
    alert.refresh_from_db()
    return _alert_page(request, alert, failed_form=form, status=400)


# --- settings and run now ----------------------------------------------------------------------


@login_required
def monitor_settings(request, pk: int):
    monitor = _monitor_for(request.user, pk)
    if not services.can_edit_monitor(request.user, monitor):
        raise PermissionDenied("only the model's data scientists change its monitor")
    features = monitor.deployment.version.feature_names
    status = 200
    if request.method == "POST":
        form = MonitorSettingsForm(request.POST, features=features)
        if form.is_valid():
            try:
                services.monitor_update(
                    user=request.user,
                    monitor=monitor,
                    config=form.config_changes(),
                    enabled=form.cleaned_data["enabled"],
                )
            except ValidationError as exc:
                form.add_config_errors(exc)
            else:
                messages.success(request, "Monitor settings saved.")
                return redirect("monitoring:monitor-settings", pk=monitor.pk)
        status = 400
    else:
        form = MonitorSettingsForm(
            initial=MonitorSettingsForm.initial_from(monitor.config, monitor.enabled), features=features
        )
    return render(
        request,
        "monitoring/settings.html",
        {"monitor": monitor, "model": monitor.deployment.version.model, "form": form},
        status=status,
    )


@login_required
@require_POST
def run_now(request, pk: int):
    """Queue an on-demand check run of one window; htmx gets the job's progress bar."""
    from apps.monitoring.runs import check_run_enqueue  # loads the statistics only when asked

    monitor = _monitor_for(request.user, pk)
    if not services.can_edit_monitor(request.user, monitor) and not access.sees_every_model(request.user):
        raise PermissionDenied("only the model's data scientists or IT may run its checks")
    window = request.POST.get("window") or "day"
    back = reverse("monitoring:model", args=[monitor.deployment.version.model_id])
    try:
        run = check_run_enqueue(monitor=monitor, window=window, trigger="manual", user=request.user)
    except ValidationError as exc:
        if request.headers.get("HX-Request"):
            return render(request, "monitoring/_run_error.html", {"error": error_text(exc)}, status=400)
        messages.error(request, error_text(exc))
        return redirect(f"{back}?monitor={monitor.pk}")
    if request.headers.get("HX-Request"):
        return render(request, "registry/_job_progress.html", {"job": run.job})
    messages.success(request, f"Check run {run.pk} of the last {window} queued.")
    return redirect(f"{back}?monitor={monitor.pk}&window={window}")
