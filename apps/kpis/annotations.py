"""Everything worth marking on a KPI chart, as plain data: ``[{ts, kind, label, url}]``, oldest first.

For one model's traffic on one endpoint (name + environment) and a time range ``[start, end)``:

    deployment   a primary going live          promotion  a canary or shadow made primary
    canary       a canary starting             rollback   an earlier primary put back
    retired      a deployment stopped          patch      a library patch re-validated / deployed
    alert        a monitoring alert opened     decision   a person's action on an alert
    kpi_alert    a KPI leaving its band        (KPI alert decisions are ``decision`` too)

Times are those of the events themselves: a deployment's ``live_at``/``retired_at`` (so a backfilled
history marks where it happened, not when the row was written), and for a monitoring alert the end
of the first window whose check flagged it (an alert from a late or backfilled check run marks the
data it is about). The caller fetched ``model`` through apps.accounts.access; nothing here scopes."""

from datetime import datetime

from django.db.models import Min, Q
from django.urls import reverse

from apps.deployments.models import Deployment
from apps.monitoring.display_names import check_display, feature_display

KINDS = (
    "deployment",
    "canary",
    "promotion",
    "rollback",
    "retired",
    "patch",
    "alert",
    "decision",
    "kpi_alert",
)
# How an audit action renames a primary going live.
_LIVE_KIND = {"deployment.promoted": "promotion", "deployment.rolled_back": "rollback"}


def _decision(act, what: str) -> str:
    """ "dana resolved alert #12: went back to normal" (who, what, why), cut to fit a hover label."""
    verb = {"acknowledge": "acknowledged", "resolve": "resolved", "note": "noted on"}.get(
        act.action, act.get_action_display().lower()
    )
    why = f": {act.reason}" if act.reason else ""
    return f"{act.actor.username} {verb} {what}{why}"[:160]


def _in(ts: datetime | None, start: datetime, end: datetime) -> bool:
    return ts is not None and start <= ts < end


def _deployments_of(model, endpoint: str, environment: str):
    return Deployment.objects.filter(
        version__model=model, endpoint__name=endpoint, endpoint__environment__name=environment
    ).select_related("version")


def deployment_annotations(
    model, endpoint: str, environment: str, start: datetime, end: datetime
) -> list[dict]:
    """Primaries and canaries going live (promotions and rollbacks named by their audit events) and
    canaries or primaries being stopped. Shadows never answer, so they never move a KPI."""
    from apps.core.models import AuditEvent

    rows = list(
        _deployments_of(model, endpoint, environment)
        .exclude(role=Deployment.Role.SHADOW)
        .filter(Q(live_at__gte=start, live_at__lt=end) | Q(retired_at__gte=start, retired_at__lt=end))
    )
    renamed = dict(
        AuditEvent.objects.filter(
            object_type="deployment", object_id__in=[d.pk for d in rows], action__in=list(_LIVE_KIND)
        ).values_list("object_id", "action")
    )
    # A primary retired by its successor going live is marked once, by the successor.
    replaced_at = {d.live_at for d in rows if d.role == Deployment.Role.PRIMARY}
    out = []
    for d in rows:
        url = reverse("registry:version-detail", args=[d.version_id])
        v = f"v{d.version.number}"
        if _in(d.live_at, start, end):
            if d.role == Deployment.Role.CANARY:
                kind, label = "canary", f"canary {v} starts ({d.traffic_percent:g}% of traffic)"
            else:
                kind = _LIVE_KIND.get(renamed.get(d.pk), "deployment")
                label = {"promotion": f"{v} promoted", "rollback": f"rolled back to {v}"}.get(
                    kind, f"{v} live"
                )
            out.append({"ts": d.live_at, "kind": kind, "label": label, "url": url, "deployment": d.pk})
        if _in(d.retired_at, start, end) and d.retired_at not in replaced_at:
            label = f"canary {v} ends" if d.role == Deployment.Role.CANARY else f"{v} retired"
            out.append(
                {"ts": d.retired_at, "kind": "retired", "label": label, "url": url, "deployment": d.pk}
            )
    return out


def patch_annotations(model, start: datetime, end: datetime) -> list[dict]:
    """Library patches of the model's versions that finished re-validation in the range."""
    from apps.libraries.models import PatchRequest

    patches = PatchRequest.objects.filter(
        version__model=model,
        status__in=[PatchRequest.Status.READY, PatchRequest.Status.DEPLOYED],
        finished_at__gte=start,
        finished_at__lt=end,
    ).select_related("resulting_version", "version")
    out = []
    for p in patches:
        target = p.resulting_version or p.version
        label = f"library patch {p.package} {p.from_version} → {p.target_version} ({p.status})"
        url = reverse("registry:version-detail", args=[target.pk]) if target else ""
        out.append({"ts": p.finished_at, "kind": "patch", "label": label, "url": url})
    return out


def alert_annotations(model, endpoint: str, environment: str, start: datetime, end: datetime) -> list[dict]:
    """Monitoring alerts of the endpoint's deployments of this model, at the end of the first window
    their check flagged, and every person's decision on them."""
    from apps.monitoring.models import Alert, AlertAction, Finding

    deployments = _deployments_of(model, endpoint, environment).values("id")
    alerts = Alert.objects.filter(monitor__deployment__in=deployments)
    first_flagged = {
        (row["run__monitor_id"], row["check_name"], row["feature"]): row["first"]
        for row in Finding.objects.filter(flagged=True, run__monitor__deployment__in=deployments)
        .values("run__monitor_id", "check_name", "feature")
        .annotate(first=Min("run__window_end"))
    }
    out = []
    for a in alerts:
        ts = min(first_flagged.get((a.monitor_id, a.check_name, a.feature), a.first_seen), a.first_seen)
        if not _in(ts, start, end):
            continue
        what = check_display(a.check_name)
        out.append(
            {
                "ts": ts,
                "kind": "alert",
                "label": f"{what} alert #{a.pk}: {feature_display(a.feature)} ({a.severity})",
                "url": reverse("monitoring:alert-detail", args=[a.pk]),
                "alert": a.pk,
                "feature": a.feature,
                "check": a.check_name,
                "severity": a.severity,
            }
        )
    actions = AlertAction.objects.filter(
        alert__monitor__deployment__in=deployments, created_at__gte=start, created_at__lt=end
    ).select_related("actor")
    for act in actions:
        out.append(
            {
                "ts": act.created_at,
                "kind": "decision",
                "label": _decision(act, f"alert #{act.alert_id}"),
                "url": reverse("monitoring:alert-detail", args=[act.alert_id]),
            }
        )
    return out


def kpi_alert_annotations(model, start: datetime, end: datetime, kpi=None) -> list[dict]:
    """KPI alerts (of one KPI, or of every KPI of the model) and the decisions taken on them."""
    from apps.kpis.models import KpiAlert, KpiAlertAction

    alerts = KpiAlert.objects.filter(kpi__model=model, first_seen__gte=start, first_seen__lt=end)
    actions = KpiAlertAction.objects.filter(
        alert__kpi__model=model, created_at__gte=start, created_at__lt=end
    ).select_related("actor", "alert__kpi")
    if kpi is not None:
        alerts, actions = alerts.filter(kpi=kpi), actions.filter(alert__kpi=kpi)
    out = [
        {
            "ts": a.first_seen,
            "kind": "kpi_alert",
            "label": f"KPI alert #{a.pk}: {a.summary}"[:160],
            "url": reverse("kpis:alert-list") + f"#kpi-alert-{a.pk}",
        }
        for a in alerts.select_related("kpi")
    ]
    for act in actions:
        out.append(
            {
                "ts": act.created_at,
                "kind": "decision",
                "label": _decision(act, f"KPI alert #{act.alert_id}"),
                "url": reverse("kpis:alert-list") + f"#kpi-alert-{act.alert_id}",
            }
        )
    return out


def annotations_for(
    *, model, endpoint: str, environment: str, start: datetime, end: datetime, kpi=None
) -> list[dict]:
    """Every marker for a KPI chart of ``model`` on ``endpoint`` (``environment``) in ``[start, end)``,
    oldest first. ``kpi`` limits the KPI alerts to that KPI's."""
    found = (
        deployment_annotations(model, endpoint, environment, start, end)
        + patch_annotations(model, start, end)
        + alert_annotations(model, endpoint, environment, start, end)
        + kpi_alert_annotations(model, start, end, kpi=kpi)
    )
    return sorted(found, key=lambda a: (a["ts"], KINDS.index(a["kind"])))
