"""Thin Celery tasks over the library services (queue routes in config/celery.py)."""

from celery import shared_task
from django.db import OperationalError

from apps.monitoring.notifications import DeliveryFailed


@shared_task(
    name="libraries.scan_locks",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=1800,
    time_limit=1900,
)
def scan_locks(version_ids: list[int] | None = None, trigger: str = "") -> dict:
    """Scan the latest locks (all, or the given versions'): after an import and nightly. Running it
    twice is harmless: findings are upserted and owners are told of a finding once."""
    from apps.libraries.scans import library_scan

    summary = library_scan(version_ids=version_ids)
    return {
        "trigger": trigger,
        "versions": summary.versions,
        "findings": summary.findings,
        "new": summary.created,
    }


@shared_task(
    bind=True,
    name="libraries.notify",
    autoretry_for=(DeliveryFailed, OperationalError),
    retry_backoff=2,
    retry_backoff_max=600,
    retry_jitter=False,
    max_retries=8,
    soft_time_limit=60,
    time_limit=90,
)
def notify(self, delivery_id: int) -> None:
    from apps.monitoring.models import NotificationDelivery
    from apps.monitoring.notifications import notification_send

    delivery = NotificationDelivery.objects.filter(pk=delivery_id).first()
    if delivery is not None:
        notification_send(delivery=delivery, final_attempt=self.request.retries >= self.max_retries)
