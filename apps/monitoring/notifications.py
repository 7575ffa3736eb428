"""Notifications: an e-mail (Django's mail backend) and a webhook (a JSON POST) per team channel,
each a NotificationDelivery row sent by the ``monitoring.notify`` task, which retries a failing
webhook with exponential back-off and records every attempt."""

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import Team
from apps.monitoring.alerts import SEVERITY_RANK, evidence_period
from apps.monitoring.display_names import (
    check_display,
    effect_display,
    feature_display,
    test_display,
    window_adjective,
)
from apps.monitoring.models import Alert, NotificationChannel, NotificationDelivery
from apps.notices.models import Notice
from apps.notices.services import notices_send

WEBHOOK_TIMEOUT_SECONDS = 10


class DeliveryFailed(Exception):
    """A webhook answered badly or not at all, or the mail server refused: worth another try."""


def channels_for(team: Team) -> list[NotificationChannel]:
    """The team's enabled channels: shared mailboxes and webhooks its admin set up. People are
    reached by their own notices (apps/notices), e-mailed as each one's preferences say, so no
    channel is made up from the members' addresses: that mailed them twice and ignored "never"."""
    return list(team.notification_channels.filter(enabled=True))


def alert_payload(alert: Alert, event: str, extra: dict | None = None) -> dict:
    deployment = alert.monitor.deployment
    return {
        "event": event,
        "alert": {
            "id": alert.pk,
            "monitor": alert.monitor_id,
            "model": deployment.version.model.name,
            "version": deployment.version.number,
            "endpoint": deployment.endpoint.name,
            "environment": deployment.endpoint.environment.name,
            "check": alert.check_name,
            "feature": alert.feature,
            "check_display": check_display(alert.check_name),
            "feature_display": feature_display(alert.feature),
            **alert_lifecycle(alert),
        },
        **(extra or {}),
    }


def alert_lifecycle(alert) -> dict:
    """The payload fields every alert has, monitoring's and KPI alerts alike."""
    return {
        "severity": alert.severity,
        "state": alert.state,
        "occurrences": alert.occurrences,
        "first_seen": alert.first_seen.isoformat(),
        "last_seen": alert.last_seen.isoformat(),
        "summary": alert.summary,
        "evidence": alert.evidence,
    }


def deliveries_queue(
    *, channels, event: str, payload: dict, alert: Alert | None = None, task=None
) -> list[NotificationDelivery]:
    """One delivery per channel and means (e-mail, webhook), each sent by ``task`` (default
    ``monitoring.notify``) after the transaction commits. Shared by alerts, KPI alerts and library
    notices: they choose the channels, this records and queues the deliveries."""
    if task is None:
        from apps.monitoring.tasks import notify as task
    deliveries = []
    for channel in channels:
        kinds = ([NotificationDelivery.Kind.EMAIL] if channel.emails else []) + (
            [NotificationDelivery.Kind.WEBHOOK] if channel.webhook_url else []
        )
        for kind in kinds:
            delivery = NotificationDelivery.objects.create(
                channel=channel, alert=alert, kind=kind, event=event, payload=payload
            )
            transaction.on_commit(lambda pk=delivery.pk: task.delay(pk))
            deliveries.append(delivery)
    return deliveries


def notifications_queue(*, alert: Alert, event: str, extra: dict | None = None) -> list[NotificationDelivery]:
    """One delivery per channel and means, sent after the transaction commits. Channels whose
    minimum severity is above the alert's are skipped, except for people's requests."""
    team = alert.monitor.deployment.version.model.team
    channels = [
        channel
        for channel in channels_for(team)
        if not event.startswith("alert.")
        or SEVERITY_RANK[alert.severity] >= SEVERITY_RANK[channel.min_severity]
    ]
    payload = alert_payload(alert, event, extra)
    alert_notices_send(alert=alert, event=event, payload=payload)
    return deliveries_queue(channels=channels, event=event, payload=payload, alert=alert)


def alert_notices_send(*, alert: Alert, event: str, payload: dict) -> list:
    """Each member of the model's team who may see the alert gets a notice in the app (and an
    e-mail if they chose so), whatever the team's channels are."""
    from apps.monitoring.selectors import alerts_visible_to  # selectors import this module

    model = alert.monitor.deployment.version.model
    requester = payload.get("requested_by")
    return notices_send(
        recipients=model.team.members.filter(is_active=True).exclude(username=requester or ""),
        kind=Notice.Kind.ALERT,
        event=event,
        title=_subject(payload).removeprefix("[Modelyard] "),
        body=_body(payload),
        url=reverse("monitoring:alert-detail", args=[alert.pk]),
        obj=alert,
        visible=alerts_visible_to,
    )


def _subject(payload: dict) -> str:
    if "subject" in payload:  # a notice written whole by its sender (library governance)
        return payload["subject"]
    alert = payload["alert"]
    if payload["event"] == "retraining.requested":
        return f"[Modelyard] retraining requested: {alert['model']} v{alert['version']}"
    return (
        f"[Modelyard] {alert['severity']} alert on {alert['model']} v{alert['version']}: {alert['summary']}"[
            :200
        ]
    )


def _body(payload: dict) -> str:
    if "text" in payload:
        return payload["text"]
    alert = payload["alert"]
    lines = [
        alert["summary"],
        "",
        f"model {alert['model']} v{alert['version']} on {alert['endpoint']} ({alert['environment']})",
        f"check {check_display(alert['check'])} on {feature_display(alert['feature'])}, "
        f"severity {alert['severity']}, state {alert['state']}",
        f"seen {alert['occurrences']} time(s), first {alert['first_seen']}, last {alert['last_seen']}",
    ]
    if payload.get("requested_by"):
        lines += ["", f"{payload['requested_by']} asks for retraining: {payload.get('reason', '')}"]
    evidence = alert.get("evidence") or {}
    if evidence:
        lines += ["", "evidence:"] + [
            f"  {k}: {_evidence_words(k, v)}" for k, v in evidence.items() if k != "details"
        ]
        period = evidence_period(evidence)
        if period:
            lines.append(f"  period: {period}")
    lines += ["", "Nothing has been changed automatically: acknowledge, resolve or act on the alert."]
    return "\n".join(lines)


# Evidence values that are internal names, shown in display_names' words.
_EVIDENCE_WORDS = {"test": test_display, "effect_name": effect_display, "window": window_adjective}


def _evidence_words(key: str, value) -> object:
    return _EVIDENCE_WORDS[key](value) if key in _EVIDENCE_WORDS else value


def _post(url: str, payload: dict) -> None:
    import requests

    try:
        response = requests.post(url, json=payload, timeout=WEBHOOK_TIMEOUT_SECONDS)
    except requests.RequestException as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
    if not 200 <= response.status_code < 300:
        raise DeliveryFailed(f"the webhook answered {response.status_code}: {response.text[:200]}")


def notification_send(*, delivery: NotificationDelivery, final_attempt: bool = True) -> NotificationDelivery:
    """Send one delivery once (a delivery already sent is left alone). On failure the attempt and
    error are recorded and DeliveryFailed is raised for the task to retry; the last attempt marks
    the delivery failed."""
    delivery = NotificationDelivery.objects.select_related("channel").get(pk=delivery.pk)
    if delivery.status == NotificationDelivery.Status.SENT:
        return delivery
    delivery.attempts += 1
    try:
        if delivery.kind == NotificationDelivery.Kind.EMAIL:
            try:
                send_mail(
                    _subject(delivery.payload),
                    _body(delivery.payload),
                    settings.DEFAULT_FROM_EMAIL,
                    list(delivery.channel.emails),
                )
            except OSError as exc:  # smtplib's errors are OSErrors
                raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
        else:
            _post(delivery.channel.webhook_url, delivery.payload)
    except DeliveryFailed as exc:
        delivery.last_error = str(exc)[:2000]
        if final_attempt:
            delivery.status = NotificationDelivery.Status.FAILED
        delivery.save(update_fields=["attempts", "last_error", "status"])
        raise
    delivery.status, delivery.sent_at = NotificationDelivery.Status.SENT, timezone.now()
    delivery.save(update_fields=["attempts", "status", "sent_at"])
    return delivery
