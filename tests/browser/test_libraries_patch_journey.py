"""IT operator, in a real browser: sees the vulnerable library in a model, approves the upgrade,
watches the re-validation finish and is offered the patched version for deployment."""

import pytest

from apps.accounts.roles import Role
from apps.jobs.models import Job
from apps.libraries.models import PatchRequest
from tests import model_zoo
from tests.conftest import wait_for
from tests.fixtures import patching, wheelhouse

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]
PASSWORD = "browser-pass-1"


@pytest.fixture
def house(tmp_path, monkeypatch):
    folder = wheelhouse.build_wheelhouse(tmp_path / "wheelhouse")
    monkeypatch.setenv("MODELYARD_PATCH_FIND_LINKS", str(folder))
    monkeypatch.setenv("MODELYARD_PATCH_NO_INDEX", "1")
    return folder


def test_it_approves_a_library_patch_and_gets_the_patched_version_to_deploy(
    house, tmp_path, make_user, credit_frame, celery_worker, login
):
    dana = make_user("dana", password=PASSWORD)
    make_user("ivan", Role.IT_OPERATOR, team=None, password=PASSWORD)
    env = patching.original_environment(tmp_path / "original-env", house)

    def worker_build_done(version):
        wait_for(
            lambda: Job.objects.filter(
                kind="packaging.build",
                status__in=["succeeded", "failed"],
                subject_id__in=version.packages.values("id"),
            ).exists(),
            timeout=120,
        )

    version = patching.register_ratio_model(
        dana,
        model_zoo.training_frame(credit_frame),
        name="ratio",
        python=env.python,
        wait_for_worker_build=worker_build_done,
    )
    patching.flag_vulnerable([version.pk])

    page = login("ivan", PASSWORD)
    page.get_by_role("link", name="IT: libraries").click()
    row = page.get_by_test_id("finding-row").filter(has_text=wheelhouse.NAME)
    assert "MYARD-2024-1" in row.inner_text() and "CVE-2099-0001" in row.inner_text()
    assert row.get_by_test_id("severity").inner_text() == "critical"
    assert row.get_by_test_id("fixed-version").inner_text().startswith("1.1")
    assert row.get_by_test_id("finding-status").inner_text() == "open"

    row.get_by_role("checkbox").check()
    page.get_by_test_id("bulk-approve").click()
    assert "Approved 1 patch(es)" in page.locator(".messages").inner_text()
    row = page.get_by_test_id("finding-row").filter(has_text=wheelhouse.NAME)
    assert row.get_by_test_id("finding-status").inner_text() in ("approved", "revalidating")

    row.get_by_test_id("patch-link").click()
    assert "modelyard-demo-lib" in page.get_by_test_id("patch-title").inner_text()
    patch = PatchRequest.objects.get(version=version)
    wait_for(lambda: Job.objects.filter(pk=patch.job_id, status__in=["succeeded", "failed"]).exists(), 240)
    patch.refresh_from_db()
    assert patch.status == "ready", (patch.error, patch.differences)
    # The status card polls itself until the worker is done.
    page.get_by_test_id("patch-status").filter(has_text="ready").wait_for(timeout=15_000)
    page.reload()
    assert page.get_by_test_id("parity-verdict").inner_text() == "passed"
    page.get_by_test_id("deploy-link").click()
    page.wait_for_url(f"**/versions/{patch.resulting_version_id}/**")
    page.get_by_test_id("deploy-form").wait_for()
    assert f"v{version.number + 1}" in page.locator("h1").inner_text()
