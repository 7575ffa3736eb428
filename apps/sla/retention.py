"""How long service-level data is kept: per-minute rollups for a quarter (the SLA page looks back a
week at most; reports may want more), worker samples (one per worker every 5 s) for two weeks."""

from datetime import timedelta

from django.utils import timezone

from apps.sla.models import SlaRollup, WorkerSample

KEEP_ROLLUPS = timedelta(days=90)
KEEP_WORKER_SAMPLES = timedelta(days=14)


def sla_prune(*, now=None) -> dict[str, int]:
    """Delete rollups and worker samples older than their keeping period; how many of each."""
    now = now or timezone.now()
    rollups, _ = SlaRollup.objects.filter(minute__lt=now - KEEP_ROLLUPS).delete()
    samples, _ = WorkerSample.objects.filter(ts__lt=now - KEEP_WORKER_SAMPLES).delete()
    return {"rollups": rollups, "worker_samples": samples}
