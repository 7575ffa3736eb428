import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.db import OperationalError

from apps.jobs.services import job_fail, job_start, job_step, job_succeed
from apps.packaging.models import PackageBuild
from apps.packaging.services import package_build_fail, package_build_run

log = logging.getLogger(__name__)


@shared_task(
    name="packaging.build",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=1800,
    time_limit=1900,
)
def build_package(job_id: int) -> None:
    """Build one package. Acknowledged late: if the worker dies mid-build the message is
    redelivered and the build runs again from the start, updating the same row."""
    job = job_start(job_id=job_id)
    if job is None:
        return
    build = PackageBuild.objects.get(pk=job.subject_id)
    try:
        build = package_build_run(
            build=build, step=lambda percent, message: job_step(job, progress=percent, message=message)
        )
    except OperationalError:
        raise  # the database went away: retried
    except SoftTimeLimitExceeded:
        build = package_build_fail(build=build, error="the build took longer than its 30-minute limit")
    except Exception as exc:  # a bug of ours must not leave the build 'running' for ever
        log.exception("package build %s failed unexpectedly", build.pk)
        build = package_build_fail(build=build, error=f"internal error: {type(exc).__name__}: {exc}"[:2000])
    if build.status == PackageBuild.Status.FAILED:
        job_fail(job, error=build.error)
    else:
        verdict = "validation passed" if build.validation_passed else "validation FAILED (see the report)"
        job_succeed(job, message=f"package ready; {verdict}")
