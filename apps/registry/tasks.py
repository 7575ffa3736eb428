from celery import shared_task
from django.db import OperationalError

from apps.jobs.services import job_fail, job_start, job_step, job_succeed
from apps.registry.datasets import DatasetError
from apps.registry.models import ModelVersion
from apps.registry.services import version_profile_compute


@shared_task(
    name="registry.profile_reference",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=600,
    time_limit=660,
)
def profile_reference(job_id: int) -> None:
    job = job_start(job_id=job_id)
    if job is None:
        return
    version = ModelVersion.objects.select_related("model").get(pk=job.subject_id)
    job_step(job, progress=5, message=f"reading {version.reference_filename}")

    def progress(done: int, total: int) -> None:
        job_step(job, progress=5 + int(90 * done / total), message=f"profiled {done} of {total} features")

    try:
        version_profile_compute(version=version, progress=progress)
    except (DatasetError, KeyError, ValueError) as exc:
        job_fail(job, error=f"reference data could not be profiled: {exc}")
        return
    job_succeed(job, message="reference profile ready")
