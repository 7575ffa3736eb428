"""The reference profile is computed by a real Celery worker process through the real broker."""

import time

import pytest

from apps.jobs.models import Job
from apps.registry.models import ModelVersion
from tests.conftest import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def test_worker_profiles_reference_and_reports_progress(
    celery_worker, make_user, api_for, post_credit_version, credit_frame
):
    api = api_for(make_user("dana"))
    body = post_credit_version(api).json()
    job = wait_for(
        lambda: (
            api.get(f"/api/v1/jobs/{body['job']}/").json()["done"]
            and api.get(f"/api/v1/jobs/{body['job']}/").json()
        )
    )
    assert job["status"] == "succeeded", job
    assert job["progress"] == 100
    assert any("profiled 13 of 13" in step["message"] for step in job["steps"])
    version = api.get(f"/api/v1/versions/{body['id']}/").json()
    assert version["status"] == "ready"
    profile = {c["name"]: c for c in version["reference_profile"]["columns"]}
    assert version["reference_profile"]["rows"] == 800
    sample = credit_frame.sample(800, random_state=2)  # the same rows the fixture uploaded
    assert profile["Income"]["nulls"] == int(sample["Income"].isna().sum())
    assert profile["Debt"]["zeros"] == int((sample["Debt"] == 0).sum())
    assert profile["Home"]["categories"]["owner"] == int((sample["Home"] == "owner").sum())


def test_redelivered_message_does_not_redo_finished_work(
    celery_worker, make_user, api_for, post_credit_version
):
    """Asking again for the same profile returns the same job; a re-sent message is a no-op."""
    api = api_for(make_user("dana"))
    body = post_credit_version(api).json()
    wait_for(lambda: Job.objects.get(pk=body["job"]).is_done)
    again = api.post(f"/api/v1/versions/{body['id']}/profile/")
    assert again.status_code == 202 and again.json()["job"] == body["job"]
    from apps.registry.tasks import profile_reference

    profile_reference.delay(body["job"])  # a duplicate delivery
    before = Job.objects.get(pk=body["job"])
    time.sleep(2)  # give the worker time to (not) act on the duplicate
    after = Job.objects.get(pk=body["job"])
    assert (after.status, after.attempts, len(after.steps)) == (
        before.status,
        before.attempts,
        len(before.steps),
    )
    assert ModelVersion.objects.get(pk=body["id"]).reference_profile is not None
