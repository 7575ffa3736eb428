"""Reads for pages and dashboards. Each returns plain data (dicts and lists, JSON-ready) and takes
objects the caller already fetched through apps.accounts.access, so scoping stays there."""

import threading
from collections import OrderedDict
from datetime import datetime

import numpy as np
from django.db.models import QuerySet

from apps.monitoring.models import Alert, CheckRun, Finding, Monitor, ReferenceProfile
from apps.monitoring.runs import window_bounds
from apps.monitoring.windows import merged_window
from apps.registry.selectors import models_visible_to


def monitors_visible_to(user) -> QuerySet:
    """Monitors of the deployments whose model the user may see: their team's for data scientists,
    all for IT and admins, the sponsored models' (read-only) for business owners."""
    return Monitor.objects.filter(deployment__version__model__in=models_visible_to(user).values("id"))


def check_runs_visible_to(user) -> QuerySet:
    return CheckRun.objects.filter(monitor__in=monitors_visible_to(user).values("id"))


def findings_visible_to(user) -> QuerySet:
    return Finding.objects.filter(run__monitor__in=monitors_visible_to(user).values("id"))


def alerts_visible_to(user) -> QuerySet:
    """Alerts follow their monitor: the same people see them; who may act is decided in
    apps.monitoring.actions.can_act_on_alert."""
    return Alert.objects.filter(monitor__in=monitors_visible_to(user).values("id"))


def alerts_for_model(user, model, *, states=("open", "acknowledged"), limit: int = 50):
    """The model's alerts the user may see, newest first (all of its deployments' monitors), with
    the monitor's deployment, endpoint and version loaded for display."""
    return (
        alerts_visible_to(user)
        .filter(monitor__deployment__version__model=model, state__in=states)
        .select_related("monitor__deployment__endpoint__environment", "monitor__deployment__version__model")
        .order_by("-last_seen", "-id")[:limit]
    )


def heatmap(monitor: Monitor, *, window: str = "day", runs: int = 14) -> dict:
    """Features × the monitor's last ``runs`` succeeded runs of one window kind, oldest first:

        {"features": [name, ...], "runs": [{"id", "window_end"}, ...],
         "cells": [[{"effect", "effect_name", "adjusted_p", "flagged", "severity", "check"} | None,
                    ...], ...]}

    A cell holds the feature's drift finding in that run (or its strongest finding of another
    check when no drift test ran); None when the run did not test the feature."""
    chosen = list(
        CheckRun.objects.filter(monitor=monitor, window=window, status=CheckRun.Status.SUCCEEDED)
        .order_by("-window_end", "-id")[:runs]
        .prefetch_related("findings")
    )[::-1]
    by_run: list[dict[str, dict]] = []
    features: list[str] = []
    for run in chosen:
        cells: dict[str, dict] = {}
        for f in run.findings.all():
            if f.feature not in features:
                features.append(f.feature)
            current = cells.get(f.feature)
            better = current is None or (f.check_name == "drift") > (current["check"] == "drift")
            if better or (
                f.check_name == current["check"] and (f.effect_size or 0) > (current["effect"] or 0)
            ):
                cells[f.feature] = {
                    "check": f.check_name,
                    "effect": f.effect_size,
                    "effect_name": f.effect_name,
                    "adjusted_p": f.adjusted_p,
                    "flagged": f.flagged,
                    "severity": f.severity,
                }
        by_run.append(cells)
    return {
        "features": features,
        "runs": [{"id": r.pk, "window_end": r.window_end.isoformat()} for r in chosen],
        "cells": [[cells.get(name) for cells in by_run] for name in features],
    }


def _shares(counts) -> list[float]:
    counts = np.asarray(counts, dtype=float)
    total = counts.sum()
    return (counts / total).tolist() if total else [0.0] * len(counts)


def feature_distributions(
    monitor: Monitor, feature: str, *, window: str = "day", end: datetime | None = None
) -> dict | None:
    """The reference and a window of one feature side by side, ready for a chart:

    numeric:     {"kind": "numeric", "edges": [...], "reference": [share per bin],
                  "current": [share per bin], "below": share, "above": share, "rows": n}
                 (the window's two outer bins, below the reference minimum and above its maximum,
                 are reported as ``below``/``above``);
    categorical: {"kind": "categorical", "categories": [...], "reference": [...], "current": [...]}
    text:        {"kind": "text", "edges": length edges, "reference": [...], "current": [...]}
    None when the version has no ready reference profile or the feature is unknown."""
    reference = page_reference(monitor.deployment.version_id, ready_only=True)
    if reference is None or feature not in reference.profile["features"]:
        return None
    start, end = window_bounds(window, end)
    current, rows = merged_window(
        deployment=monitor.deployment, start=start, end=end, reference=reference.profile
    )
    ref, cur = reference.profile["features"][feature], current["features"][feature]
    base = {
        "feature": feature,
        "window_start": start.isoformat(),
        "window_end": end.isoformat(),
        "rows": rows,
    }
    if ref["kind"] == "numeric":
        shares = _shares(cur["counts"])
        return {
            **base,
            "kind": "numeric",
            "edges": ref["edges"],
            "reference": _shares(ref["counts"]),
            "current": shares[1:-1],
            "below": shares[0],
            "above": shares[-1],
        }
    if ref["kind"] == "categorical":
        names = sorted(
            set(ref["categories"]) | set(cur["categories"]), key=lambda c: -ref["categories"].get(c, 0)
        )
        ref_total = sum(ref["categories"].values()) or 1
        cur_total = sum(cur["categories"].values()) or 1
        return {
            **base,
            "kind": "categorical",
            "categories": names,
            "reference": [ref["categories"].get(c, 0) / ref_total for c in names],
            "current": [cur["categories"].get(c, 0) / cur_total for c in names],
        }
    return {
        **base,
        "kind": "text",
        "edges": ref["length_edges"],
        "reference": _shares(ref["length_counts"]),
        "current": _shares(cur["length_counts"]),
    }


def open_alert_counts(user) -> dict[str, int]:
    """Unresolved alerts the user may see, by severity (for a home page badge)."""
    counts = {s: 0 for s in Alert.Severity.values}
    for severity in (
        alerts_visible_to(user).exclude(state=Alert.State.RESOLVED).values_list("severity", flat=True)
    ):
        counts[severity] += 1
    return counts


# Reference profiles as pages read them, decoded once per build in each process: a profile is
# hundreds of kilobytes of JSON that the monitoring page needed three times per request.
_PAGE_REFERENCES: OrderedDict = OrderedDict()
_PAGE_REFERENCES_LOCK = threading.Lock()
_PAGE_REFERENCES_KEPT = 16


def page_reference(version_id: int, *, ready_only: bool = False) -> ReferenceProfile | None:
    """The version's reference profile, for reading only: fetched again when it is rebuilt or
    changes status (its id, status and build time are the key), from memory otherwise."""
    stamp = (
        ReferenceProfile.objects.filter(version_id=version_id).values_list("pk", "status", "built_at").first()
    )
    if stamp is None or (ready_only and stamp[1] != ReferenceProfile.Status.READY):
        return None
    with _PAGE_REFERENCES_LOCK:
        kept = _PAGE_REFERENCES.get(stamp)
    if kept is None:
        kept = ReferenceProfile.objects.filter(pk=stamp[0]).first()
        if kept is None or (kept.status, kept.built_at) != stamp[1:]:
            return kept if not ready_only or (kept and kept.status == ReferenceProfile.Status.READY) else None
        with _PAGE_REFERENCES_LOCK:
            _PAGE_REFERENCES[stamp] = kept
            while len(_PAGE_REFERENCES) > _PAGE_REFERENCES_KEPT:
                _PAGE_REFERENCES.popitem(last=False)
    return kept
