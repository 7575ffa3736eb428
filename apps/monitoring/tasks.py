"""Thin Celery tasks over the monitoring services (queue ``monitoring``; schedule in config/celery.py)."""

from celery import shared_task
from django.db import OperationalError

from apps.jobs.services import job_fail, job_start, job_step, job_succeed
from apps.monitoring.models import CheckRun, NotificationDelivery
from apps.monitoring.notifications import DeliveryFailed, notification_send
from apps.monitoring.references import ReferenceUnavailable, reference_profile_build
from apps.monitoring.services import monitors_sync
from apps.monitoring.windows import windows_profile_all
from apps.registry.models import ModelVersion

WEBHOOK_RETRIES = 6


@shared_task(
    name="monitoring.build_reference",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=900,
    time_limit=960,
)
def build_reference(job_id: int) -> None:
    job = job_start(job_id=job_id)
    if job is None:
        return
    version = ModelVersion.objects.select_related("model__team").get(pk=job.subject_id)
    try:
        reference_profile_build(version=version, step=lambda p, m: job_step(job, progress=p, message=m))
    except ReferenceUnavailable as exc:
        job_fail(job, error=str(exc))
        return
    job_succeed(job, message="reference profile ready")


@shared_task(name="monitoring.profile_windows", soft_time_limit=50, time_limit=58)
def profile_windows() -> int:
    """Every minute: new predictions since each deployment's cursor → hourly window profiles."""
    monitors_sync()
    return windows_profile_all()


@shared_task(name="monitoring.run_due_checks", soft_time_limit=50, time_limit=58)
def run_due_checks() -> int:
    """Every minute: queue the check runs of monitors whose schedule is due."""
    from apps.monitoring.runs import runs_due

    return len(runs_due())


@shared_task(
    name="monitoring.run_check",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=600,
    time_limit=660,
)
def run_check(job_id: int) -> None:
    from apps.monitoring.runs import check_run_execute

    job = job_start(job_id=job_id)
    if job is None:
        return
    run = check_run_execute(
        run=CheckRun.objects.get(pk=job.subject_id), step=lambda p, m: job_step(job, progress=p, message=m)
    )
    if run.status == CheckRun.Status.FAILED:
        job_fail(job, error=run.error)
    elif run.status == CheckRun.Status.SKIPPED:
        job_succeed(job, message=f"skipped: {run.error}")
    else:
        job_succeed(job, message=f"{run.flagged_count} of {run.tests_run} tests flagged")


@shared_task(
    bind=True,
    name="monitoring.notify",
    autoretry_for=(DeliveryFailed, OperationalError),
    retry_backoff=2,
    retry_backoff_max=600,
    retry_jitter=False,
    max_retries=WEBHOOK_RETRIES,
    soft_time_limit=60,
    time_limit=90,
)
def notify(self, delivery_id: int) -> None:
    """Send one e-mail or webhook; a failure is retried after 2, 4, 8 … s (at most 10 min apart),
    and the last failed attempt marks the delivery failed."""
    delivery = NotificationDelivery.objects.filter(pk=delivery_id).first()
    if delivery is None:
        return
    notification_send(delivery=delivery, final_attempt=self.request.retries >= self.max_retries)


@shared_task(
    name="monitoring.explain",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=600,
    time_limit=660,
)
def explain(job_id: int) -> None:
    """An alert's root-cause analysis (apps/monitoring/explain.py)."""
    from apps.monitoring.explain import explain_execute
    from apps.monitoring.models import SliceAnalysis

    job = job_start(job_id=job_id)
    if job is None:
        return
    analysis = explain_execute(
        analysis=SliceAnalysis.objects.get(pk=job.subject_id),
        step=lambda p, m: job_step(job, progress=p, message=m),
    )
    if analysis.status == SliceAnalysis.Status.FAILED:
        job_fail(job, error=analysis.error)
    else:
        job_succeed(job, message=f"{len(analysis.explanation_list)} explanations, {analysis.tests_run} tests")
