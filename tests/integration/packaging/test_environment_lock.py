"""Issue 14: a file registered without its environment (as `modelyard register FILE` did) no
longer validates with an empty lock: the check names the missing distribution, and an IT operator
can still accept the package, audited. With the environment the client now captures, it passes."""

import pytest

from apps.accounts.roles import Role
from apps.core.models import AuditEvent
from apps.packaging.environment_check import CHECK
from apps.packaging.services import package_build_enqueue, package_build_run
from tests import model_zoo
from tests.conftest import register_credit_version

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def frame(credit_frame):
    return model_zoo.training_frame(credit_frame)


def build(version):
    return package_build_run(build=package_build_enqueue(version=version), step=lambda p, m: None)


def test_no_captured_environment_fails_naming_scikit_learn_and_it_may_override(make_user, api_for, frame):
    filename, content = model_zoo.sklearn_joblib(frame)
    version = register_credit_version(make_user("dana"), filename, content, frame, environment={})
    result = build(version)
    assert result.status == "succeeded" and result.archive_sha256  # there is a package to accept
    assert result.validation_passed is False
    check = next(c for c in result.report["checks"] if c["name"] == CHECK)
    assert check["status"] == "fail"
    assert "scikit-learn (for import sklearn)" in check["detail"]
    assert "joblib (for import joblib)" in check["detail"]

    dana = api_for(make_user("dana2"))
    it = api_for(make_user("ivan", Role.IT_OPERATOR, team=None))
    shown = it.get(f"/api/v1/packages/{result.pk}/").json()
    assert any("scikit-learn" in c["detail"] for c in shown["report"]["checks"] if c["status"] == "fail")
    assert dana.post(f"/api/v1/versions/{version.pk}/stage/", {"stage": "production"}).status_code in (
        400,
        404,
    )
    accepted = it.post(
        f"/api/v1/packages/{result.pk}/override/",
        {"reason": "the serving image installs scikit-learn itself; accepted for this release"},
    )
    assert accepted.status_code == 200, accepted.json()
    assert accepted.json()["deployable_to_production"] is True
    event = AuditEvent.objects.get(action="package.validation_overridden")
    assert "scikit-learn itself" in event.details["reason"]


def test_the_captured_environment_locks_scikit_learn_and_passes(make_user, frame):
    import importlib.metadata

    filename, content = model_zoo.sklearn_joblib(frame)
    version = register_credit_version(make_user("dana"), filename, content, frame)  # captured
    result = build(version)
    assert result.validation_passed, result.report
    assert f"scikit-learn=={importlib.metadata.version('scikit-learn')}" in result.lock_text.split()
    check = next(c for c in result.report["checks"] if c["name"] == CHECK)
    assert check["status"] == "pass"


def test_a_declared_requirement_can_supply_the_missing_distribution(make_user, frame):
    import importlib.metadata

    filename, content = model_zoo.sklearn_joblib(frame)
    pins = "".join(
        f"{name}=={importlib.metadata.version(name)}\n" for name in ("scikit-learn", "joblib", "numpy")
    )
    version = register_credit_version(
        make_user("dana"), filename, content, frame, environment={}, requirements=pins
    )
    check = next(c for c in build(version).report["checks"] if c["name"] == CHECK)
    assert check["status"] == "pass", check
