"""Package builds in a real Celery worker: started by registration, followed through the API,
downloaded and verified; and a worker process killed mid-build still yields exactly one build."""

import io
import json
import os
import signal
import subprocess
import tarfile

import pytest

from apps.core.models import AuditEvent
from apps.jobs.models import Job
from apps.packaging.bundle.archive import verify_archive
from apps.packaging.models import PackageBuild, PackagingPolicy
from tests import model_zoo
from tests.conftest import named_file, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


@pytest.fixture
def frame(credit_frame):
    return model_zoo.training_frame(credit_frame)


def post(api, filename, content, frame, **fields):
    response = api.post(
        "/api/v1/versions/",
        {
            "model": "zoo",
            "task_type": "binary_classification",
            "artifact": named_file(filename, content),
            "reference": named_file("train.csv", model_zoo.reference_csv(frame)),
            "target": "Status",
            "environment": json.dumps(model_zoo.environment(filename, content)),  # as the client sends
            **fields,
        },
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    return response.json()


def package_job(version_id):
    build = PackageBuild.objects.filter(version_id=version_id).first()
    if build is None:
        return None
    return Job.objects.filter(subject_type="package", subject_id=build.pk).order_by("-created_at").first()


def test_registration_builds_a_package_that_downloads_and_verifies(
    celery_worker, make_user, api_for, frame, credit_frame
):
    api = api_for(make_user("dana"))
    holdout = credit_frame[model_zoo.FEATURES + ["Status"]].dropna().sample(200, random_state=5)
    version = post(
        api,
        *model_zoo.sklearn_joblib(frame),
        frame,
        holdout=named_file("holdout.csv", holdout.to_csv(index=False).encode()),
        thresholds='{"roc_auc": 0.6}',
    )
    job = wait_for(lambda: (j := package_job(version["id"])) and j.is_done and j, timeout=120)
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.progress == 100 and len(job.steps) >= 4
    summary = api.get(f"/api/v1/versions/{version['id']}/").json()["package"]
    assert summary["status"] == "succeeded" and summary["validation_passed"] is True
    build = api.get(f"/api/v1/packages/{summary['id']}/").json()
    assert any(c["name"] == "holdout roc_auc" and c["status"] == "pass" for c in build["report"]["checks"])
    download = api.get(build["download_url"])
    data = b"".join(download.streaming_content)
    assert verify_archive(data) == []
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = {m.name for m in tar.getmembers()}
    assert "zoo-v1/manifest.json" in names and "zoo-v1/sbom.cdx.json" in names
    # The same request again is the same build.
    again = api.post(f"/api/v1/versions/{version['id']}/package/").json()
    assert again["package"] == summary["id"]


def _pool_children(worker_pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(worker_pid)], capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split()]


def _busy_child(worker_pid: int) -> int | None:
    """The pool process that has started a sandbox (it has a child of its own)."""
    for pid in _pool_children(worker_pid):
        if _pool_children(pid):
            return pid
    return None


def test_worker_killed_mid_build_still_builds_exactly_once(celery_worker, make_user, api_for, frame):
    policy = PackagingPolicy.current()
    policy.sandbox_timeout_seconds = 120
    policy.save()
    api = api_for(make_user("dana"))
    version = post(api, *model_zoo.slow_python_source(6), frame)
    busy = wait_for(lambda: _busy_child(celery_worker.pid), timeout=60, interval=0.2)
    os.kill(busy, signal.SIGKILL)  # the pool process dies mid-build, as on an out-of-memory kill
    job = wait_for(lambda: (j := package_job(version["id"])) and j.is_done and j, timeout=180)
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.attempts == 2  # the message was redelivered once
    builds = PackageBuild.objects.filter(version_id=version["id"])
    assert builds.count() == 1 and builds.get().archive_sha256
    assert AuditEvent.objects.filter(action="package.built", object_id=builds.get().pk).count() == 1
