from celery import shared_task
from django.db import OperationalError

from apps.deployments.models import Deployment
from apps.deployments.services import deployment_rollout_run
from apps.jobs.services import job_fail, job_start, job_step, job_succeed


@shared_task(
    name="deployments.rollout",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=600,
    time_limit=660,
)
def rollout(job_id: int) -> None:
    job = job_start(job_id=job_id)
    if job is None:
        return
    deployment = Deployment.objects.select_related("package", "endpoint").get(pk=job.subject_id)
    try:
        deployment = deployment_rollout_run(
            deployment=deployment, step=lambda p, m: job_step(job, progress=p, message=m)
        )
    except (ValueError, OSError) as exc:
        job_fail(job, error=str(exc))
        return
    job_succeed(job, message=f"live on {deployment.endpoint} as {deployment.role}")
