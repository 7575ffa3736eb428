"""A failed validation blocks production until an IT operator overrides it with a reason."""

import pytest

from apps.accounts.roles import Role
from apps.core.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def failed_build(failed_validation_build):
    return failed_validation_build


def test_failed_validation_blocks_production_until_it_overrides(failed_build, make_user, api_for, client):
    version = failed_build.version
    dana = api_for(make_user("dana"))
    response = dana.post(f"/api/v1/versions/{version.pk}/stage/", {"stage": "production"})
    assert response.status_code == 400
    assert "validation failed" in response.json()["stage"][0]
    assert dana.post(f"/api/v1/versions/{version.pk}/stage/", {"stage": "staging"}).status_code == 200

    # Only IT may override, and only with a reason.
    refused = dana.post(f"/api/v1/packages/{failed_build.pk}/override/", {"reason": "we need it live today"})
    assert refused.status_code == 403
    ivan = make_user("ivan", Role.IT_OPERATOR, team=None)
    it = api_for(ivan)
    short = it.post(f"/api/v1/packages/{failed_build.pk}/override/", {"reason": "ok"})
    assert short.status_code == 400 and "reason" in short.json()
    accepted = it.post(
        f"/api/v1/packages/{failed_build.pk}/override/",
        {"reason": "accuracy bar was set for a different population; business accepts 0.7"},
    )
    assert accepted.status_code == 200, accepted.json()
    assert accepted.json()["deployable_to_production"] is True and accepted.json()["override_by"] == "ivan"
    twice = it.post(f"/api/v1/packages/{failed_build.pk}/override/", {"reason": "again, for the record"})
    assert twice.status_code == 400 and "already overridden" in twice.json()["package"][0]
    event = AuditEvent.objects.get(action="package.validation_overridden")
    assert event.actor == ivan and "different population" in event.details["reason"]

    promoted = dana.post(f"/api/v1/versions/{version.pk}/stage/", {"stage": "production", "reason": "go"})
    assert promoted.status_code == 200 and promoted.json()["stage"] == "production"

    # The page shows the verdict and the override.
    client.force_login(ivan)
    page = client.get(f"/versions/{version.pk}/").content.decode()
    assert "validation failed" in page and "overridden by ivan" in page


def test_other_teams_cannot_see_or_download_packages(failed_build, make_user, api_for):
    mark = api_for(make_user("mark", team="Customer Insights"))
    assert mark.get(f"/api/v1/packages/{failed_build.pk}/").status_code == 404
    assert mark.get(f"/api/v1/packages/{failed_build.pk}/download/").status_code == 404
    assert mark.post(f"/api/v1/versions/{failed_build.version_id}/package/").status_code == 404
    assert mark.get("/api/v1/packages/").json()["count"] == 0


def test_override_page_form(failed_build, make_user, client):
    client.force_login(make_user("ivan", Role.IT_OPERATOR, team=None))
    page = client.get(f"/versions/{failed_build.version_id}/").content.decode()
    assert "Override" in page
    response = client.post(f"/packages/{failed_build.pk}/override/", {"reason": "short"}, follow=True)
    assert "at least 10 characters" in response.content.decode()
    client.post(f"/packages/{failed_build.pk}/override/", {"reason": "accepted for the pilot branch only"})
    failed_build.refresh_from_db()
    assert failed_build.override_reason == "accepted for the pilot branch only"
