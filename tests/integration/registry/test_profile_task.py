"""The profile task's own logic, called in-process: failures end the job with a reason."""

import io

import pytest

from apps.jobs.models import Job
from apps.registry.services import Registration, version_profile_enqueue, version_register
from apps.registry.tasks import profile_reference

pytestmark = pytest.mark.django_db


def test_profile_failure_is_recorded_on_the_job(make_user, credit_model_bytes):
    dana = make_user("dana")
    version = version_register(
        user=dana,
        reg=Registration(
            model_name="tiny",
            task_type="regression",
            artifact=io.BytesIO(credit_model_bytes),
            artifact_filename="m.joblib",
            reference=io.BytesIO(b"Age,Income\n30,1000\n40,2000\n"),
            reference_filename="ref.csv",
        ),
    )
    version.input_schema = {"features": [{"name": "Missing", "type": "number"}]}
    version.save()
    job = version_profile_enqueue(version=version)
    profile_reference(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert "Missing" in job.error and job.finished_at is not None
    profile_reference(job.pk)  # a redelivery of a finished job changes nothing
    job.refresh_from_db()
    assert job.attempts == 1
