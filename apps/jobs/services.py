"""Create, progress and finish jobs. Every long task goes through these."""

from collections.abc import Callable

from django.db import transaction
from django.utils import timezone

from apps.jobs.models import Job


def job_enqueue(
    *,
    kind: str,
    subject_type: str,
    subject_id: int,
    idempotency_key: str,
    send: Callable[[int], None],
    team=None,
    requested_by=None,
) -> Job:
    """Create the job once per idempotency key and hand its id to ``send`` after the surrounding
    transaction commits, so a worker never looks for a row that is not there yet.
    Asking again with the same key returns the existing job and sends nothing."""
    job, created = Job.objects.get_or_create(
        idempotency_key=idempotency_key,
        defaults={
            "kind": kind,
            "subject_type": subject_type,
            "subject_id": subject_id,
            "team": team,
            "requested_by": requested_by if requested_by and requested_by.is_authenticated else None,
        },
    )
    if created:
        transaction.on_commit(lambda: send(job.pk))
    return job


def job_start(*, job_id: int) -> Job | None:
    """Mark the job running; None when it already finished (a redelivered message) or its row
    is gone (the transaction that queued it was rolled back, or the data was reset)."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.is_done:
            return None
        job.status = Job.Status.RUNNING
        job.attempts += 1
        job.started_at = job.started_at or timezone.now()
        job.save(update_fields=["status", "attempts", "started_at"])
    return job


def job_step(job: Job, *, progress: int, message: str) -> None:
    job.progress = max(0, min(100, progress))
    job.steps = [*job.steps, {"at": timezone.now().isoformat(), "message": message}]
    job.save(update_fields=["progress", "steps"])


def job_succeed(job: Job, *, message: str = "done") -> None:
    job.status = Job.Status.SUCCEEDED
    job.finished_at = timezone.now()
    job_step(job, progress=100, message=message)
    job.save(update_fields=["status", "finished_at"])


def job_fail(job: Job, *, error: str) -> None:
    job.status = Job.Status.FAILED
    job.error = error
    job.finished_at = timezone.now()
    job.steps = [*job.steps, {"at": timezone.now().isoformat(), "message": f"failed: {error}"}]
    job.save(update_fields=["status", "error", "finished_at", "steps"])
