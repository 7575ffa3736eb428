"""The patch flow with a real Celery worker: IT approves upgrading modelyard-demo-lib 1.0 → 1.1 in a
model that imports it; the worker patches the lock, builds an isolated environment with pip from a
wheelhouse built in the test (offline), registers and packages the patched version, validates it
inside that environment and compares its predictions with the current version's."""

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from apps.accounts.roles import Role
from apps.core.models import AuditEvent
from apps.jobs.models import Job
from apps.libraries.models import LibraryFinding, PatchRequest
from apps.libraries.patching.services import patch_approve
from apps.monitoring.models import NotificationChannel, NotificationDelivery
from apps.packaging.models import PackageBuild
from tests import model_zoo
from tests.conftest import wait_for
from tests.fixtures import patching, wheelhouse

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _worker_build_done(version):
    wait_for(
        lambda: (
            Job.objects.filter(kind="packaging.build", status__in=["succeeded", "failed"])
            .filter(subject_id__in=version.packages.values("id"))
            .exists()
        ),
        timeout=120,
    )


@pytest.fixture
def house(tmp_path, monkeypatch, request):
    """The wheelhouse the worker installs from, offline. Set before the worker starts."""
    changes = getattr(request, "param", False)
    folder = wheelhouse.build_wheelhouse(tmp_path / "wheelhouse", fixed_changes_outputs=changes)
    monkeypatch.setenv("MODELYARD_PATCH_FIND_LINKS", str(folder))
    monkeypatch.setenv("MODELYARD_PATCH_NO_INDEX", "1")
    return folder


@pytest.fixture
def flagged(house, tmp_path, make_user, credit_frame, celery_worker):
    """dana's ratio model, packaged with the library at 1.0, flagged by the test advisory."""
    dana = make_user("dana")
    dana.email = "dana@example.com"
    dana.save()
    # Team channels are shared mailboxes set up for the team; people get their own notices.
    NotificationChannel.objects.create(
        team=dana.teams.get(), name="team mailbox", emails=["dana@example.com"]
    )
    ivan = make_user("ivan", Role.IT_OPERATOR, team=None)
    env = patching.original_environment(tmp_path / "original-env", house)
    frame = model_zoo.training_frame(credit_frame)
    version = patching.register_ratio_model(
        dana, frame, name="ratio", python=env.python, wait_for_worker_build=_worker_build_done
    )
    (finding,) = patching.flag_vulnerable([version.pk])
    assert (finding.installed_version, finding.fixed_version, finding.status) == ("1.0", "1.1", "open")
    return dana, ivan, version, finding


def _finished(patch):
    """The patch request once its job is done (the job finishes after the request does)."""
    wait_for(lambda: Job.objects.filter(pk=patch.job_id, status__in=["succeeded", "failed"]).exists(), 240)
    return PatchRequest.objects.get(pk=patch.pk)


def test_approved_patch_builds_validates_and_offers_the_patched_version(flagged):
    dana, ivan, version, finding = flagged
    mail.outbox.clear()

    patch = patch_approve(user=ivan, version_id=version.pk, package="modelyard_demo_lib")
    assert (patch.from_version, patch.target_version, patch.status) == ("1.0", "1.1", "approved")
    finding.refresh_from_db()
    assert finding.status == LibraryFinding.Status.APPROVED

    patch = _finished(patch)
    assert patch.status == PatchRequest.Status.READY, (patch.error, patch.differences)
    patched = patch.resulting_version
    assert patched.number == version.number + 1 and patched.parent_id == version.pk
    assert patched.description.startswith(f"patched from v{version.number}: modelyard-demo-lib 1.0 → 1.1")
    assert patched.environment["packages"][wheelhouse.NAME] == "1.1"
    assert f"{wheelhouse.NAME}==1.1" in patched.requirements.splitlines()
    assert patched.artifact_sha256 == version.artifact_sha256

    # Packaged by the normal build, validated inside the patched environment.
    build = patched.packages.get()
    assert build.status == PackageBuild.Status.SUCCEEDED and build.validation_passed
    assert f"{wheelhouse.NAME}==1.1" in build.lock_text and patch.patched_lock == build.lock_text
    resolved = patch.differences["environment"]["resolved"][wheelhouse.NAME]
    assert resolved["version"] == "1.1" and "patch-envs" in resolved["location"]

    parity = patch.differences["parity"]
    assert parity["passed"] and parity["rows"] == 500 and parity["agreement"] == 1.0
    assert parity["changed_rows"] == 0

    finding.refresh_from_db()
    assert finding.status == LibraryFinding.Status.READY
    job = Job.objects.get(pk=patch.job_id)
    assert job.status == Job.Status.SUCCEEDED and job.progress == 100
    assert any("patched environment" in s["message"] for s in job.steps)

    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {
        "patch.approved",
        "patch.revalidating",
        "version.patched",
        "package.built",
        "patch.ready",
    } <= actions
    delivery = wait_for(
        lambda: NotificationDelivery.objects.filter(event="library.patch.ready", status="sent").first(),
        timeout=30,
    )
    assert delivery.payload["patch"]["patched_version"] == patched.number
    assert "dana@example.com" in delivery.channel.emails

    # Refusals, each with the reason.
    with pytest.raises(ValidationError, match="already approved by ivan"):
        patch_approve(user=ivan, version_id=version.pk, package=wheelhouse.NAME)
    with pytest.raises(PermissionDenied, match="only an IT operator"):
        patch_approve(user=dana, version_id=version.pk, package=wheelhouse.NAME)
    with pytest.raises(ValidationError, match="#999999 no longer exists"):
        patch_approve(user=ivan, version_id=999999, package=wheelhouse.NAME)

    # Deployed through the normal path, the patch and its finding say so at once.
    from apps.deployments.services import deployment_request, deployment_rollout_run

    staged = deployment_request(user=dana, version=patched, endpoint="ratio-risk", environment="staging")
    deployment_rollout_run(deployment=staged, step=lambda p, m: None)
    patch.refresh_from_db(), finding.refresh_from_db()
    assert patch.status == PatchRequest.Status.DEPLOYED
    assert finding.status == LibraryFinding.Status.DEPLOYED


@pytest.mark.parametrize("house", [True], indirect=True)
def test_a_fix_that_changes_predictions_fails_with_the_differences(flagged):
    _dana, ivan, version, finding = flagged

    patch = _finished(patch_approve(user=ivan, version_id=version.pk, package=wheelhouse.NAME))

    assert patch.status == PatchRequest.Status.FAILED
    assert patch.error.startswith("prediction parity failed:")
    parity = patch.differences["parity"]
    assert not parity["passed"] and parity["changed_rows"] > 0
    assert parity["agreement"] < 0.995
    assert parity["label_changes"] == {"good → bad": parity["changed_rows"]}
    first = parity["changes"][0]
    assert (first["before"], first["after"]) == ("good", "bad")
    finding.refresh_from_db()
    assert finding.status == LibraryFinding.Status.FAILED
    assert Job.objects.get(pk=patch.job_id).status == Job.Status.FAILED
    assert AuditEvent.objects.filter(action="patch.failed", object_id=patch.pk).exists()
    # A failed patch may be approved again (e.g. once the model is fixed).
    again = patch_approve(user=ivan, version_id=version.pk, package=wheelhouse.NAME)
    assert again.pk != patch.pk
