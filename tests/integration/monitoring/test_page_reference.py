"""Pages read a version's reference profile from memory until it is rebuilt or changes status."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.monitoring.models import ReferenceProfile
from apps.monitoring.selectors import page_reference

pytestmark = pytest.mark.django_db


def test_a_rebuilt_or_failed_reference_is_read_again(packaged_version):
    version = packaged_version()
    ReferenceProfile.objects.update_or_create(
        version=version,
        defaults={"status": "ready", "profile": {"features": {"a": 1}}, "built_at": timezone.now()},
    )
    assert page_reference(version.pk).profile == {"features": {"a": 1}}
    with CaptureQueriesContext(connection) as queries:
        again = page_reference(version.pk, ready_only=True)
    assert again.profile == {"features": {"a": 1}}
    assert len(queries) == 1 and '"profile"' not in queries[0]["sql"]  # the stamp only, no JSON

    ReferenceProfile.objects.filter(version=version).update(
        profile={"features": {"b": 2}}, built_at=timezone.now()
    )
    assert page_reference(version.pk).profile == {"features": {"b": 2}}
    ReferenceProfile.objects.filter(version=version).update(status="failed")
    assert page_reference(version.pk, ready_only=True) is None
    assert page_reference(version.pk).status == "failed"
