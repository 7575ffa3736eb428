"""Root-cause explanations of an alert: where, among the window's predictions, did the alert's
metric move? One service per use case, called by the alert hook, the task, the API and the page:

- ``explain_enqueue``: a new analysis of an alert's latest run window (automatically once when the
  alert opens, or on demand), queued as a job after the transaction commits;
- ``explain_drill_down``: search again inside one explanation of an earlier analysis (its child in
  the tree a person walks), or inside a slice given as JSON;
- ``explain_execute``: the work (the task calls it): the frames (explain_frames.py), the metric
  (explain_metric.py), the monitor template's slice groups, the run's drifted features and the
  reference profile's bin edges handed to stats.slices.find_slices; the result stored.

Analyses are read through the alert, whose visibility apps.accounts.access decides."""

import uuid
from datetime import datetime

import numpy as np
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.jobs.services import job_enqueue
from apps.monitoring import explain_frames, explain_metric
from apps.monitoring.models import Alert, ReferenceProfile, SliceAnalysis
from apps.monitoring.stats.slice_derived import TEMPLATE_DERIVED, derive, scorecard
from apps.monitoring.stats.slice_exclusive import merge_overlapping
from apps.monitoring.stats.slice_model import Slice as SliceOf
from apps.monitoring.stats.slice_model import SliceMetric
from apps.monitoring.stats.slice_overlap import drop_broader
from apps.monitoring.stats.slices import find_slices, template_pairs

DONE = (SliceAnalysis.Status.SUCCEEDED, SliceAnalysis.Status.FAILED)
PROFILE_QUANTILES = (0.2, 0.4, 0.6, 0.8)  # the finder's bins: the reference's quintiles


class AnalysisNotPossible(Exception):
    """Stored as the analysis's error: it could not compare anything."""


# ---------------------------------------------------------------------------------------------
# Queueing


def _queue(analysis: SliceAnalysis, key: str, user) -> SliceAnalysis:
    from apps.monitoring.tasks import explain

    analysis.job = job_enqueue(
        kind="monitoring.explain",
        subject_type="slice_analysis",
        subject_id=analysis.pk,
        idempotency_key=key,
        send=lambda job_id: explain.delay(job_id),
        team=analysis.monitor.deployment.version.model.team,
        requested_by=user,
    )
    analysis.save(update_fields=["job"])
    return analysis


def explain_enqueue(*, alert: Alert, user=None, trigger: str = SliceAnalysis.Trigger.MANUAL, run=None):
    """A new analysis of the alert's latest run window (or ``run``'s, one of the monitor's) against
    that run's baseline. The automatic one (trigger "alert") is made once per alert; asking again
    returns it."""
    run = run or alert.latest_run
    if run is not None and run.monitor_id != alert.monitor_id:
        raise ValidationError({"run": f"check run {run.pk} is not one of this alert's monitor"})
    if run is None:
        raise ValidationError({"alert": "this alert has no check run whose window could be explained"})
    automatic = trigger == SliceAnalysis.Trigger.ALERT
    key = f"monitoring.explain:alert:{alert.pk}" if automatic else f"monitoring.explain:{uuid.uuid4().hex}"
    with transaction.atomic():
        if automatic and (existing := SliceAnalysis.objects.filter(job__idempotency_key=key).first()):
            return existing
        analysis = SliceAnalysis.objects.create(
            monitor=alert.monitor,
            alert=alert,
            run=run,
            trigger=trigger,
            window_start=run.window_start,
            window_end=run.window_end,
            baseline=run.baseline,
            q=run.q,
            requested_by=user if user is not None and user.is_authenticated else None,
        )
        return _queue(analysis, key, user)


def parse_within(parent: SliceAnalysis | None, within) -> SliceOf:
    """The slice to search inside: an explanation's index in ``parent``, or a slice as JSON
    ({"conditions": [{"feature", "kind", ...}]}). Raises ValidationError naming the field."""
    if isinstance(within, bool) or within is None:
        raise ValidationError({"within": "give an explanation's index in the parent analysis, or a slice"})
    if isinstance(within, int):
        if parent is None:
            raise ValidationError({"parent": "an explanation's index needs the analysis it belongs to"})
        if parent.status != SliceAnalysis.Status.SUCCEEDED:
            raise ValidationError({"parent": f"analysis {parent.pk} has not finished ({parent.status})"})
        listed = parent.explanation_list
        if not 0 <= within < len(listed):
            raise ValidationError(
                {"within": f"analysis {parent.pk} lists {len(listed)} explanations; {within} is not one"}
            )
        return SliceOf.from_dict(listed[within]["slice"])
    try:
        chosen = SliceOf.from_dict(within)
    except (ValueError, TypeError) as exc:
        raise ValidationError({"within": str(exc)}) from exc
    if not chosen.conditions:
        raise ValidationError({"within": "the slice has no conditions"})
    return chosen


def _known_features(monitor) -> set[str]:
    names = {f["name"] for f in monitor.deployment.version.input_schema.get("features", [])}
    names |= {g for group in monitor.config.get("slices", []) for g in group if g in TEMPLATE_DERIVED}
    return names


def explain_drill_down(*, alert: Alert, within, parent: SliceAnalysis | None = None, user=None):
    """A child analysis searching inside one slice, on the same window, baseline and metric as its
    parent (or, without a parent, as a new analysis of the alert's latest run)."""
    if parent is not None and parent.alert_id != alert.pk:
        raise ValidationError({"parent": f"analysis {parent.pk} is not one of this alert's"})
    chosen = parse_within(parent, within)
    known = {n.casefold() for n in _known_features(alert.monitor)}
    unknown = [c.feature for c in chosen.conditions if c.feature.casefold() not in known]
    if unknown:
        raise ValidationError({"within": f"not features of this model: {', '.join(unknown)}"})
    if parent is None:
        run = alert.latest_run
        if run is None:
            raise ValidationError({"alert": "this alert has no check run whose window could be explained"})
        bounds = {"run": run, "window_start": run.window_start, "window_end": run.window_end}
        bounds |= {"baseline": run.baseline, "q": run.q, "metric": {}}
    else:
        bounds = {"run_id": parent.run_id, "window_start": parent.window_start}
        bounds |= {"window_end": parent.window_end}
        bounds |= {"baseline": parent.baseline, "q": parent.q, "metric": parent.metric}
    with transaction.atomic():
        analysis = SliceAnalysis.objects.create(
            monitor=alert.monitor,
            alert=alert,
            parent=parent,
            trigger=SliceAnalysis.Trigger.DRILL_DOWN,
            within=chosen.to_dict(),
            requested_by=user if user is not None and user.is_authenticated else None,
            **bounds,
        )
        return _queue(analysis, f"monitoring.explain:{uuid.uuid4().hex}", user)


# ---------------------------------------------------------------------------------------------
# The work


def explain_execute(*, analysis: SliceAnalysis, step=lambda p, m: None) -> SliceAnalysis:
    """Do the analysis (idempotent: a finished one is returned as it is)."""
    analysis = SliceAnalysis.objects.select_related(
        "monitor__deployment__version__model", "alert", "run", "parent"
    ).get(pk=analysis.pk)
    if analysis.status in DONE:
        return analysis
    analysis.status = SliceAnalysis.Status.RUNNING
    analysis.save(update_fields=["status"])
    try:
        return _execute(analysis, step)
    except (AnalysisNotPossible, explain_frames.FrameUnavailable, ValueError) as exc:
        analysis.status, analysis.error, analysis.finished_at = (
            SliceAnalysis.Status.FAILED,
            str(exc),
            timezone.now(),
        )
        analysis.save(update_fields=["status", "error", "finished_at"])
        return analysis


def _baseline_frame(analysis: SliceAnalysis, step):
    monitor = analysis.monitor
    deployment = monitor.deployment
    span = analysis.window_end - analysis.window_start
    if analysis.baseline == "previous":
        frame, _ = explain_frames.window_frame(
            deployment=deployment, start=analysis.window_start - span, end=analysis.window_start
        )
        return frame, "the previous window"
    if analysis.baseline == "rebaselined" and monitor.baseline_window:
        start = datetime.fromisoformat(monitor.baseline_window["start"])
        end = datetime.fromisoformat(monitor.baseline_window["end"])
        frame, _ = explain_frames.window_frame(deployment=deployment, start=start, end=end)
        return frame, "the accepted baseline window"
    return explain_frames.reference_frame(version=deployment.version, step=step), "the reference data"


def profile_edges(version, names: set[str], score_brackets: list[str] = ()) -> dict[str, list[float]]:
    """Bin edges fixed in advance by the registered reference's profile: its quintiles (and, for a
    scorecard bracket, the scorecard of the score's quintiles: the transform is monotone)."""
    reference = ReferenceProfile.objects.filter(version=version, status=ReferenceProfile.Status.READY).first()
    if reference is None or not reference.profile:
        return {}
    features = reference.profile.get("features", {})

    def quintiles(name: str) -> list[float]:
        grid = features.get(name, {}).get("quantiles") or []
        if len(grid) < 2:
            return []
        return sorted({float(grid[round(p * (len(grid) - 1))]) for p in PROFILE_QUANTILES})

    edges = {name: cuts for name in names if (cuts := quintiles(name))}
    score = quintiles("__score__")
    for name in score_brackets:
        if score:
            edges[name] = sorted(set(scorecard(np.asarray(score)).round(0).tolist()))
    return edges


def _template(monitor, columns: set[str], metric: SliceMetric, reference, current):
    """(pairs, marked, derived) from the monitor's ``slices`` groups: names the finder does not know
    as columns are the template's derived features (slice_derived.TEMPLATE_DERIVED); groups naming
    something these rows cannot give are left out."""
    folded = {c.casefold() for c in columns}
    derived, groups = {}, []
    for group in monitor.config.get("slices", []):
        usable = []
        for name in group:
            definition = TEMPLATE_DERIVED.get(name)
            if definition is not None and definition["from"] in current.columns:
                if not explain_metric.restates(metric, definition):
                    derived[name] = definition
                    usable.append(name)
            elif name.casefold() in folded:
                usable.append(name)
        if usable:
            groups.append(usable)
    pairs, marked = template_pairs(groups)
    for name, definition in derived.items():  # so that a slice's mask can be read off the frames
        column = derive(name, definition, reference, current)
        current[name], reference[name] = column.current, column.reference
    return pairs, marked, derived


def _execute(analysis: SliceAnalysis, step) -> SliceAnalysis:
    monitor, alert = analysis.monitor, analysis.alert
    version = monitor.deployment.version
    specs = list(version.input_schema.get("features", []))
    step(5, f"reading the window of {analysis.window_start:%Y-%m-%d %H:%M} – {analysis.window_end:%H:%M}")
    current, total = explain_frames.window_frame(
        deployment=monitor.deployment, start=analysis.window_start, end=analysis.window_end
    )
    reference, against = _baseline_frame(analysis, step)
    step(40, f"{len(current)} predictions against {len(reference)} rows of {against}")
    try:
        metric = explain_metric.choose(
            check=alert.check_name if alert else "drift",
            feature=alert.feature if alert else "__prediction__",
            task_type=version.model.task_type,
            specs=specs,
            reference=reference,
            current=current,
        )
    except explain_metric.MetricUnavailable as exc:
        raise AnalysisNotPossible(str(exc)) from exc
    if analysis.metric:  # a drill-down follows its parent's metric
        metric = SliceMetric.from_dict(analysis.metric)
    features = [s for s in specs if s["name"] in current.columns and s["name"] in reference.columns]
    own = metric.column if metric.kind != "error_rate" else None
    numeric = {s["name"] for s in features if s.get("type") in ("number", "integer") and s["name"] != own}
    pairs, marked, derived = _template(monitor, {s["name"] for s in features}, metric, reference, current)
    brackets = [n for n, d in derived.items() if d.get("transform") == "scorecard"]
    drifted = []
    if analysis.run_id:
        drifted = sorted(
            {
                f
                for f in analysis.run.findings.filter(flagged=True).values_list("feature", flat=True)
                if f in {s["name"] for s in features} and f != own
            }
        )
    within = SliceOf.from_dict(analysis.within) if analysis.within else None
    step(55, f"testing slices of {len(features) + len(derived)} features")
    result = find_slices(
        reference,
        current,
        metric=metric,
        features=features,
        pairs=pairs,
        marked=marked,
        derived=derived or None,
        drifted=drifted,
        within=within,
        q=analysis.q,
        edges=profile_edges(version, numeric, brackets),
    )
    masks: dict = {}  # the current window's columns, read once for both steps
    result, broader = drop_broader(result, current, masks)
    result = merge_overlapping(result, reference, current, metric, masks)
    notes = list(result.notes)
    if total > len(current):
        notes.append(f"the newest {len(current):,} of the window's {total:,} predictions were read")
    if broader:
        notes.append(
            f"{broader} broader slice(s) left out: most of the change of each is that of a smaller "
            "slice listed, which lies mostly inside it"
        )
    stored = result.to_dict()
    stored["notes"] = notes
    stored["baseline_words"] = against
    with transaction.atomic():
        analysis.metric = metric.to_dict()
        analysis.rows_reference, analysis.rows_current = len(reference), len(current)
        analysis.tests_run, analysis.q, analysis.overall = result.tests_run, result.q, result.overall
        analysis.explanations = stored
        analysis.status, analysis.finished_at = SliceAnalysis.Status.SUCCEEDED, timezone.now()
        analysis.save()
    step(95, f"{len(result.explanations)} explanations from {result.tests_run} slices tested")
    return analysis


def analysis_path(analysis: SliceAnalysis) -> list[SliceAnalysis]:
    """The analyses from the root down to ``analysis``: the breadcrumbs of the tree walked."""
    path = [analysis]
    while path[0].parent_id is not None and len(path) < 50:
        path.insert(0, SliceAnalysis.objects.get(pk=path[0].parent_id))
    return path
