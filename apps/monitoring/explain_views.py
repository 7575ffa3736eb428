"""The alert page's "Where is this coming from?" panel: an alert's root-cause analyses, the ranked
explanations of one with a small chart each, the breadcrumbs of the drill-down path, and the
buttons that start a new analysis or drill into an explanation (htmx; without JavaScript the forms
post and redirect). Thin: the alert comes through apps.accounts.access (another team's → 404), the
work through apps.monitoring.explain."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from apps.core.pages import error_text
from apps.monitoring import explain_charts
from apps.monitoring.actions import can_act_on_alert
from apps.monitoring.models import Alert, SliceAnalysis
from apps.monitoring.selectors import alerts_visible_to
from apps.monitoring.stats.slice_model import Slice


def _alert_for(user, pk: int) -> Alert:
    return get_object_or_404(
        alerts_visible_to(user).select_related("monitor__deployment__version__model"), pk=pk
    )


def _key(slice_dict: dict) -> str:
    return json.dumps(Slice.from_dict(slice_dict).to_dict(), sort_keys=True)


def _rows(analysis: SliceAnalysis) -> list[dict]:
    """Each explanation with its chart, its contribution as a bar width, and its drill-down child."""
    if analysis.status != SliceAnalysis.Status.SUCCEEDED:
        return []
    percent = analysis.metric.get("kind") != "mean"
    baseline = "reference" if analysis.baseline == "reference" else "baseline"
    # The newest drill-down into each explanation, matched by its slice.
    children = {_key(c.within): c for c in analysis.children.order_by("created_at", "id") if c.within}
    rows = []
    for index, e in enumerate(analysis.explanation_list):
        # Analyses stored before slice_exclusive.py have only each slice's own (overlapping) share.
        exclusive = "exclusive_contribution" in e
        share = e.get("exclusive_contribution") if exclusive else e.get("contribution")
        rows.append(
            {
                "index": index,
                "e": e,
                "figure": explain_charts.explanation_figure(
                    e, analysis.overall, percent=percent, baseline=baseline
                ),
                "bar": None if share is None else max(2, min(100, round(abs(share) * 100))),
                "against": share is not None and share < 0,
                "share": share,
                "exclusive": exclusive,
                "child": children.get(_key(e["slice"])),
                "percent": percent,
            }
        )
    return rows


def _path(analysis: SliceAnalysis, analyses: dict[int, SliceAnalysis]) -> list[SliceAnalysis]:
    path = [analysis]
    while path[0].parent_id in analyses and len(path) < 50:
        path.insert(0, analyses[path[0].parent_id])
    return path


def _panel(request, alert: Alert, analysis: SliceAnalysis | None, *, status: int = 200, error: str = ""):
    analyses = {a.pk: a for a in alert.slice_analyses.select_related("job", "run").order_by("-created_at")}
    if analysis is None:
        analysis = next((a for a in analyses.values() if a.parent_id is None), None)
    return render(
        request,
        "monitoring/_explain.html",
        {
            "alert": alert,
            "analysis": analysis,
            "crumbs": [
                {"analysis": a, "words": Slice.from_dict(a.within).words() if a.within else "all predictions"}
                for a in (_path(analysis, analyses) if analysis else [])
            ],
            "roots": [a for a in analyses.values() if a.parent_id is None],
            "rows": _rows(analysis) if analysis else [],
            "can_start": can_act_on_alert(request.user, alert),
            "error": error,
        },
        status=status,
    )


@login_required
def alert_explanations(request, pk: int):
    """The panel for one analysis (``?analysis=id``; by default the alert's newest top-level one)."""
    alert = _alert_for(request.user, pk)
    analysis = None
    if (chosen := request.GET.get("analysis", "")).isdigit():
        analysis = get_object_or_404(SliceAnalysis, alert=alert, pk=int(chosen))
    return _panel(request, alert, analysis)


@login_required
@require_POST
def alert_explain(request, pk: int):
    """Start an analysis: the alert's latest window again, or (``parent`` + ``index``) a drill-down
    into one explanation. htmx gets the panel with the new analysis's progress."""
    from apps.monitoring.explain import explain_drill_down, explain_enqueue

    alert = _alert_for(request.user, pk)
    if not can_act_on_alert(request.user, alert):
        raise PermissionDenied("only the model's data scientists or IT may start an analysis")
    parent_id, index = request.POST.get("parent", ""), request.POST.get("index", "")
    try:
        if parent_id:
            parent = alert.slice_analyses.filter(pk=int(parent_id) if parent_id.isdigit() else 0).first()
            if parent is None:
                raise ValidationError({"parent": f"analysis {parent_id!r} is not one of this alert's"})
            if not index.isdigit():
                raise ValidationError({"index": f"{index!r} is not an explanation's number"})
            analysis = explain_drill_down(alert=alert, parent=parent, within=int(index), user=request.user)
        else:
            analysis = explain_enqueue(alert=alert, user=request.user)
    except ValidationError as exc:
        if request.headers.get("HX-Request"):
            return _panel(request, alert, None, status=400, error=error_text(exc))
        messages.error(request, error_text(exc))
        return redirect("monitoring:alert-detail", pk=alert.pk)
    if request.headers.get("HX-Request"):
        return _panel(request, alert, analysis)
    return redirect(reverse("monitoring:alert-detail", args=[alert.pk]) + f"?analysis={analysis.pk}")
