"""Alerts from flagged findings: severity from effect size and significance, one unresolved alert
per monitor, check and feature (later findings add occurrences and refresh the evidence)."""

import math
from datetime import datetime

from django.db import IntegrityError, transaction

from apps.core.severity import SEVERITY_RANK
from apps.monitoring.display_names import (
    check_display,
    effect_display,
    feature_display,
    test_display,
    window_label,
    zone_name,
)
from apps.monitoring.models import Alert, CheckRun, Finding


def severity_of(*, effect: float, floor: float, adjusted_p: float | None, q: float) -> str:
    """How bad a flagged finding is.

    high:   the effect is at least 3× its floor and the evidence overwhelming (adjusted p ≤ q/50,
            or a check without a p-value, which is judged on its effect alone);
    medium: the effect is at least 1.5× its floor;
    low:    flagged, but close to the floor.
    A floor of 0 counts any effect as far above it."""
    ratio = math.inf if floor <= 0 else abs(effect) / floor
    strong = adjusted_p is None or adjusted_p <= q / 50
    if ratio >= 3 and strong:
        return Alert.Severity.HIGH
    if ratio >= 1.5:
        return Alert.Severity.MEDIUM
    return Alert.Severity.LOW


def short_number(value, digits: int = 3) -> str:
    """A statistic for people: 3 significant digits, tiny p-values in scientific notation."""
    if value is None:
        return "–"
    if value != 0 and abs(value) < 10**-digits:
        return f"{value:.1e}"
    return f"{value:.{digits}g}"


def describe(finding: Finding, window: str) -> str:
    """One sentence a person can read in an e-mail subject or a list, in display_names' words."""
    p = f", adjusted p {short_number(finding.adjusted_p)}" if finding.adjusted_p is not None else ""
    return (
        f"{feature_display(finding.feature)}: {check_display(finding.check_name)} over the last {window} "
        f"({test_display(finding.test)} {short_number(finding.statistic)}{p}, "
        f"{effect_display(finding.effect_name)} "
        f"{short_number(finding.effect_size)} ≥ floor {short_number(finding.floor)}; "
        f"n={finding.n_current} vs {finding.n_reference})"
    )[:300]


def evidence_period(evidence: dict) -> str:
    """The window an alert's evidence comes from, as the period it covers in the reader's zone
    ("Sat 5 Dec 2026 (UTC)"); empty for evidence without window bounds."""
    try:
        start = datetime.fromisoformat(evidence["window_start"])
        end = datetime.fromisoformat(evidence["window_end"])
    except (KeyError, TypeError, ValueError):
        return ""
    return f"{window_label(start, end)} ({zone_name()})"


def evidence_of(finding: Finding, run: CheckRun) -> dict:
    return {
        "run": run.pk,
        "finding": finding.pk,
        "window": run.window,
        "window_start": run.window_start.isoformat(),
        "window_end": run.window_end.isoformat(),
        "baseline": run.baseline,
        "test": finding.test,
        "statistic": finding.statistic,
        "p_value": finding.p_value,
        "adjusted_p": finding.adjusted_p,
        "correction": run.correction,
        "q": run.q,
        "effect_size": finding.effect_size,
        "effect_name": finding.effect_name,
        "floor": finding.floor,
        "n_reference": finding.n_reference,
        "n_current": finding.n_current,
        "details": finding.details,
    }


def _raise_one(run: CheckRun, finding: Finding) -> tuple[Alert, str | None]:
    """Open or update the alert for one flagged finding; the event to notify about, if any."""
    key = {"monitor_id": run.monitor_id, "check_name": finding.check_name, "feature": finding.feature}
    unresolved = Alert.objects.select_for_update().exclude(state=Alert.State.RESOLVED)
    alert = unresolved.filter(**key).first()
    now = run.finished_at or run.created_at
    if alert is None:
        try:
            with transaction.atomic():  # a savepoint: another run may open the same alert meanwhile
                alert = Alert.objects.create(
                    **key,
                    severity=finding.severity,
                    first_seen=now,
                    last_seen=now,
                    latest_run=run,
                    latest_finding=finding,
                    evidence=evidence_of(finding, run),
                    summary=describe(finding, run.window),
                )
            return alert, "alert.opened"
        except IntegrityError:
            alert = unresolved.get(**key)
    escalated = SEVERITY_RANK[finding.severity] > SEVERITY_RANK[alert.severity]
    alert.occurrences += 1
    alert.last_seen = now
    alert.latest_run, alert.latest_finding = run, finding
    alert.evidence = evidence_of(finding, run)
    alert.summary = describe(finding, run.window)
    if escalated:
        alert.severity = finding.severity
    alert.save()
    return alert, "alert.escalated" if escalated else None


def alerts_raise(*, run: CheckRun) -> list[tuple[Alert, str]]:
    """Alerts for the run's flagged findings; returns those (with the event) that need notifying:
    newly opened or escalated ones. Repeats of an unresolved alert only add an occurrence."""
    to_notify = []
    with transaction.atomic():
        for finding in run.findings.filter(flagged=True).order_by("check_name", "feature"):
            alert, event = _raise_one(run, finding)
            if event:
                to_notify.append((alert, event))
            if event == "alert.opened":  # where is it coming from? Queued after the commit.
                from apps.monitoring.explain import explain_enqueue

                explain_enqueue(alert=alert, trigger="alert")
    return to_notify
