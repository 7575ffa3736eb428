"""IT's library policy: packaging refuses a blocked library, or one below its minimum, naming the
package, the rule and the team's exception; exceptions let a team through until they expire."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from apps.accounts.roles import Role
from apps.core.models import AuditEvent
from apps.libraries.policy import (
    library_exception_grant,
    library_policy_refusal,
    library_rule_save,
)
from apps.packaging.models import PackageBuild
from apps.packaging.services import package_build_enqueue, package_build_run
from tests import model_zoo
from tests.conftest import register_credit_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def ivan(make_user):
    return make_user("ivan", role=Role.IT_OPERATOR, team=None)


def test_packaging_refuses_a_blocked_library_with_a_clear_error(make_user, ivan, credit_frame):
    dana = make_user("dana")
    library_rule_save(user=ivan, package="PyYAML", rule="blocked", reason="CVE-2020-14343, use 6.x")
    frame = model_zoo.training_frame(credit_frame, rows=200)
    filename, content = model_zoo.python_source(frame)
    version = register_credit_version(
        dana,
        filename,
        content,
        frame,
        name="rule",
        environment={"python": "3.11.7", "packages": {"pyyaml": "5.3"}},
    )
    build = package_build_run(build=package_build_enqueue(version=version), step=lambda p, m: None)
    assert build.status == PackageBuild.Status.FAILED
    assert build.error == (
        "refused by the library policy: pyyaml==5.3 is blocked by IT's library policy "
        "(CVE-2020-14343, use 6.x); team Credit Risk has no exception"
    )
    assert (
        not build.archive and AuditEvent.objects.filter(action="package.refused", object_id=build.pk).exists()
    )


def test_minimum_versions_and_expiring_exceptions(make_user, ivan):
    dana = make_user("dana")
    team = dana.teams.get()
    rule = library_rule_save(user=ivan, package="urllib3", rule="minimum", minimum_version="1.26.18")
    assert library_policy_refusal(team=team, packages=[("urllib3", "1.26.18"), ("numpy", "1.0")]) is None
    refusal = library_policy_refusal(team=team, packages=[("urllib3", "1.26.4")])
    assert "urllib3==1.26.4 is below the minimum version 1.26.18" in refusal
    assert "cannot be compared" in library_policy_refusal(team=team, packages=[("urllib3", "nightly")])

    granted = library_exception_grant(
        user=ivan, rule=rule, team=team, expires_at=timezone.now() + timedelta(days=7), reason="vendor pin"
    )
    assert library_policy_refusal(team=team, packages=[("urllib3", "1.26.4")]) is None
    granted.expires_at = timezone.now() - timedelta(minutes=1)
    granted.save()
    refusal = library_policy_refusal(team=team, packages=[("urllib3", "1.26.4")])
    assert f"team Credit Risk's exception expired on {granted.expires_at:%Y-%m-%d %H:%M} UTC" in refusal
    # Another team's exception does not help.
    mark = make_user("mark", team="Customer Insights")
    assert "has no exception" in library_policy_refusal(team=mark.teams.get(), packages=[("urllib3", "1.0")])


def test_only_it_sets_the_policy_and_bad_rules_are_named(make_user, ivan):
    dana = make_user("dana")
    with pytest.raises(PermissionDenied):
        library_rule_save(user=dana, package="pyyaml", rule="blocked")
    with pytest.raises(ValidationError) as bad:
        library_rule_save(user=ivan, package="pyyaml", rule="minimum", minimum_version="six")
    assert "minimum_version" in bad.value.message_dict
    with pytest.raises(ValidationError) as bad:
        library_rule_save(user=ivan, package="pyyaml", rule="forbidden")
    assert "rule" in bad.value.message_dict
    rule = library_rule_save(user=ivan, package="pyyaml", rule="blocked")
    with pytest.raises(ValidationError) as bad:
        library_exception_grant(
            user=ivan,
            rule=rule,
            team=dana.teams.get(),
            expires_at=timezone.now() - timedelta(days=1),
            reason="x",
        )
    assert "expires_at" in bad.value.message_dict
