"""Old service-level data is pruned; recent data stays."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.sla.models import SlaRollup, WorkerSample
from apps.sla.retention import KEEP_ROLLUPS, KEEP_WORKER_SAMPLES, sla_prune

pytestmark = pytest.mark.django_db


def test_prune_keeps_recent_rollups_and_samples():
    now = timezone.now().replace(second=0, microsecond=0)
    for age in (timedelta(0), KEEP_ROLLUPS + timedelta(minutes=1)):
        SlaRollup.objects.create(
            endpoint="e", environment="production", version_number=1, minute=now - age, count=1
        )
    for age in (timedelta(0), KEEP_WORKER_SAMPLES + timedelta(minutes=1)):
        WorkerSample.objects.create(host="h", pid=1, ts=now - age, cpu_seconds=1.0, rss_bytes=1)
    assert sla_prune(now=now) == {"rollups": 1, "worker_samples": 1}
    assert SlaRollup.objects.get().minute == now and WorkerSample.objects.get().ts == now
