"""KPI alerts: the latest complete window outside the KPI's band opens one; people decide.

Why a model of its own (KpiAlert) rather than monitoring's Alert: a monitoring alert belongs to a
monitor of one deployment and its actions (rollback, retire, re-baseline) act on that deployment,
while a KPI spans an endpoint's deployments and belongs to its business owner. What is shared is
what should be: the same states (open → acknowledged → resolved), the same de-duplication (one
unresolved alert per KPI; a repeat adds an occurrence), the same severities, and the same delivery
machinery: monitoring's NotificationChannel/NotificationDelivery rows, sent and retried by the
``monitoring.notify`` task, each linked to its KPI alert by a KpiNotification.

Recipients: the KPI's owner and the model team's members each get a notice in the app (and an
e-mail as each chose, apps.notices), and the team's channels a delivery, so the data scientists
who can explain the movement hear of it too.

Severity: high when the whole interval of the window's value lies outside the band (the move is not
noise), medium when only the value does."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from apps.accounts import access
from apps.core.audit import audit_record
from apps.core.severity import SEVERITY_RANK
from apps.kpis.formatting import format_value
from apps.kpis.models import KpiAlert, KpiAlertAction, KpiDefinition, KpiNotification, KpiPoint
from apps.monitoring.display_names import window_label
from apps.monitoring.models import NotificationDelivery
from apps.monitoring.notifications import alert_lifecycle, channels_for, deliveries_queue
from apps.notices.models import Notice
from apps.notices.services import notices_send

ACTIONS = KpiAlertAction.Kind.values
MIN_REASON = 5


def latest_complete_point(kpi: KpiDefinition, now=None) -> KpiPoint | None:
    return kpi.points.filter(end__lte=now or timezone.now()).order_by("-start").first()


def _severity(kpi: KpiDefinition, point: KpiPoint) -> str:
    low, high = point.interval_low, point.interval_high
    if low is None or high is None:
        return KpiAlert.Severity.MEDIUM
    below = kpi.band_low is not None and high < kpi.band_low
    above = kpi.band_high is not None and low > kpi.band_high
    return KpiAlert.Severity.HIGH if below or above else KpiAlert.Severity.MEDIUM


def describe(kpi: KpiDefinition, point: KpiPoint) -> str:
    side = "below" if kpi.band_low is not None and point.value < kpi.band_low else "above"
    bound = kpi.band_low if side == "below" else kpi.band_high
    return (
        f"{kpi.name} was {format_value(kpi, point.value)} over {window_label(point.start, point.end)}, "
        f"{side} its band ({format_value(kpi, bound)})"
    )[:300]


def evidence_of(kpi: KpiDefinition, point: KpiPoint) -> dict:
    return {
        "point": point.pk,
        "window": kpi.window,
        "window_start": point.start.isoformat(),
        "window_end": point.end.isoformat(),
        "value": point.value,
        "interval_low": point.interval_low,
        "interval_high": point.interval_high,
        "numerator": point.numerator,
        "denominator": point.denominator,
        "n": point.n,
        "target": kpi.target,
        "band_low": kpi.band_low,
        "band_high": kpi.band_high,
        "message": point.message,
    }


@transaction.atomic
def kpi_alert_check(*, kpi: KpiDefinition, now=None) -> tuple[KpiAlert | None, str | None]:
    """Open or update the KPI's alert when its latest complete window is out of band; (alert, event
    sent). The same window seen again refreshes the evidence only; a new window out of band adds an
    occurrence. A window back in band changes nothing: a person resolves the alert."""
    point = latest_complete_point(kpi, now)
    if point is None or point.status != KpiPoint.Status.OUT_OF_BAND:
        return None, None
    severity = _severity(kpi, point)
    unresolved = KpiAlert.objects.select_for_update().exclude(state=KpiAlert.State.RESOLVED)
    alert = unresolved.filter(kpi=kpi).first()
    seen = timezone.now()
    fields = {"latest_point": point, "evidence": evidence_of(kpi, point), "summary": describe(kpi, point)}
    if alert is None:
        try:
            with transaction.atomic():  # a savepoint: a concurrent roll-up may open it meanwhile
                alert = KpiAlert.objects.create(
                    kpi=kpi, severity=severity, first_seen=seen, last_seen=seen, **fields
                )
            audit_record(
                actor=None, action="kpi_alert.opened", obj=alert, team=kpi.model.team, **fields["evidence"]
            )
            kpi_notifications_queue(alert=alert, event="alert.opened")
            return alert, "alert.opened"
        except IntegrityError:
            alert = unresolved.get(kpi=kpi)
    new_window = alert.latest_point_id != point.pk
    escalated = SEVERITY_RANK[severity] > SEVERITY_RANK[alert.severity]
    for name, value in fields.items():
        setattr(alert, name, value)
    if new_window:
        alert.occurrences += 1
        alert.last_seen = seen
    if escalated:
        alert.severity = severity
    alert.save()
    if escalated:
        kpi_notifications_queue(alert=alert, event="alert.escalated")
        return alert, "alert.escalated"
    return alert, None


def kpi_alert_payload(alert: KpiAlert, event: str, extra: dict | None = None) -> dict:
    """Shaped like monitoring's alert payload, so its mail and webhook senders carry it unchanged."""
    kpi = alert.kpi
    return {
        "event": event,
        "kind": "kpi",
        "alert": {
            "id": alert.pk,
            "kpi": kpi.pk,
            "model": kpi.model.name,
            "version": "-",
            "endpoint": kpi.endpoint,
            "environment": kpi.environment,
            "check": "kpi",
            "feature": kpi.name,
            **alert_lifecycle(alert),
        },
        **(extra or {}),
    }


def kpi_notifications_queue(*, alert: KpiAlert, event: str) -> list[NotificationDelivery]:
    """One delivery per channel and means, sent by monitoring's notify task after the commit."""
    from apps.kpis.selectors import kpi_alerts_visible_to  # selectors import this module

    kpi = alert.kpi
    channels = [
        channel
        for channel in channels_for(kpi.model.team)
        if SEVERITY_RANK[alert.severity] >= SEVERITY_RANK[channel.min_severity]
    ]
    payload = kpi_alert_payload(alert, event)
    notices_send(
        recipients=[kpi.owner, kpi.model.business_owner, *kpi.model.team.members.filter(is_active=True)],
        kind=Notice.Kind.KPI_ALERT,
        event=event,
        title=f"{alert.severity} KPI alert on {kpi.name} ({kpi.model.name}): {alert.summary}"
        if event == "alert.opened"
        else f"KPI alert on {kpi.name} escalated to {alert.severity}: {alert.summary}",
        body=alert.summary,
        url=reverse("kpis:detail", args=[kpi.pk]),
        obj=alert,
        visible=kpi_alerts_visible_to,
    )
    deliveries = deliveries_queue(channels=channels, event=event, payload=payload)
    KpiNotification.objects.bulk_create(KpiNotification(alert=alert, delivery=d) for d in deliveries)
    return deliveries


@transaction.atomic
def kpi_alert_act(*, user, alert: KpiAlert, action: str, reason: str = "") -> KpiAlertAction:
    """A person's decision: acknowledge (open → acknowledged), resolve (→ resolved, with a reason),
    or a note (a recorded decision that changes no state). Recorded and audited."""
    if action not in ACTIONS:
        raise ValidationError({"action": f"'{action}' is not one of {', '.join(ACTIONS)}"})
    alert = KpiAlert.objects.select_for_update().select_related("kpi__model__team").get(pk=alert.pk)
    if not access.can_act_on_kpi_alert(user, alert):
        raise PermissionDenied("only the KPI's owner, the model's data scientists or IT may act on it")
    reason = (reason or "").strip()
    if action != "acknowledge" and len(reason) < MIN_REASON:
        raise ValidationError({"reason": f"say why ({action} needs a reason)"})
    if alert.state == KpiAlert.State.RESOLVED:
        raise ValidationError(
            {"action": "the alert is resolved; the KPI leaving its band again opens a new one"}
        )
    if action == "acknowledge":
        if alert.state != KpiAlert.State.OPEN:
            raise ValidationError(
                {"action": f"the alert is {alert.state}; only an open alert is acknowledged"}
            )
        alert.state = KpiAlert.State.ACKNOWLEDGED
    elif action == "resolve":
        alert.state, alert.resolved_at = KpiAlert.State.RESOLVED, timezone.now()
    alert.save(update_fields=["state", "resolved_at"])
    record = KpiAlertAction.objects.create(alert=alert, action=action, actor=user, reason=reason)
    audit_record(
        actor=user,
        action=f"kpi_alert.{action}",
        obj=alert,
        team=alert.kpi.model.team,
        reason=reason,
        state=alert.state,
    )
    return record
