from celery import shared_task
from django.db import OperationalError

from apps.jobs.services import job_fail, job_start, job_step, job_succeed
from apps.libraries.models import PatchRequest
from apps.libraries.patching.services import patch_run


@shared_task(
    name="libraries.patch.run",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=3600,
    time_limit=3700,
)
def run_patch(job_id: int) -> None:
    """One patch request: patched lock → environment → version → package → parity. Acknowledged
    late; a redelivered message resumes with the same patched version."""
    job = job_start(job_id=job_id)
    if job is None:
        return
    patch = PatchRequest.objects.get(pk=job.subject_id)
    patch = patch_run(
        patch=patch, step=lambda percent, message: job_step(job, progress=percent, message=message)
    )
    if patch.status == PatchRequest.Status.FAILED:
        job_fail(job, error=patch.error)
    else:
        job_succeed(job, message=f"patched version v{patch.resulting_version.number} is ready to deploy")
