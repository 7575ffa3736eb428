"""Consumer keys on the pages: the team creates one (shown once), sees it listed by its prefix and
revokes it; another team gets a 404, a business owner who sees the endpoint a 403."""

import re

import pytest
from django.contrib.auth import get_user_model

from apps.accounts.roles import Role
from apps.core.models import AuditEvent
from apps.deployments.models import Deployment, EndpointKey
from apps.deployments.services import deployment_request, deployment_rollout_run
from apps.serving.inference.keys import hash_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(packaged_version, make_user):
    version = packaged_version()
    dana = get_user_model().objects.get(username="dana")
    version.model.business_owner = make_user("bea", Role.BUSINESS_OWNER, team=None)
    version.model.save(update_fields=["business_owner"])
    deployment = deployment_request(user=dana, version=version, endpoint="credit-risk", environment="staging")
    deployment_rollout_run(deployment=Deployment.objects.get(pk=deployment.pk), step=lambda p, m: None)
    return Deployment.objects.get(pk=deployment.pk).endpoint


def test_the_team_creates_a_key_seen_once_then_revokes_it(endpoint, client):
    client.force_login(get_user_model().objects.get(username="dana"))
    overview = client.get("/deployments/").content.decode()
    assert f'href="/endpoints/{endpoint.pk}/keys/"' in overview

    created = client.post(f"/endpoints/{endpoint.pk}/keys/", {"name": "loan origination"})
    assert created.status_code == 200
    assert "no-store" in created["Cache-Control"]
    key = re.search(r'data-testid="new-key-value">(myk_[^<]+)<', created.content.decode())[1]
    stored = EndpointKey.objects.get(endpoint=endpoint)
    assert stored.key_hash == hash_key(key) and stored.created_by.username == "dana"

    listed = client.get(f"/endpoints/{endpoint.pk}/keys/").content.decode()
    assert key not in listed and f"{stored.prefix}…" in listed and "loan origination" in listed

    empty = client.post(f"/endpoints/{endpoint.pk}/keys/", {"name": ""}).content.decode()
    assert "name the key" in empty and EndpointKey.objects.count() == 1

    revoked = client.post(f"/endpoints/{endpoint.pk}/keys/{stored.pk}/revoke/", follow=True)
    assert "revoked" in revoked.content.decode()
    stored.refresh_from_db()
    assert stored.revoked_at is not None and stored.revoked_by.username == "dana"
    actions = list(
        AuditEvent.objects.filter(object_type="endpointkey").order_by("id").values_list("action", flat=True)
    )
    assert actions == ["endpoint_key.created", "endpoint_key.revoked"]


def test_other_teams_get_404_and_a_sponsor_403(endpoint, make_user, client):
    key = EndpointKey.objects.create(endpoint=endpoint, name="app", prefix="myk_abcdef", key_hash="0" * 64)
    client.force_login(make_user("mark", team="Customer Insights"))
    assert client.get(f"/endpoints/{endpoint.pk}/keys/").status_code == 404
    assert client.post(f"/endpoints/{endpoint.pk}/keys/", {"name": "x"}).status_code == 404
    assert client.post(f"/endpoints/{endpoint.pk}/keys/{key.pk}/revoke/").status_code == 404
    assert 'data-testid="keys-link"' not in client.get("/deployments/").content.decode()

    client.force_login(get_user_model().objects.get(username="bea"))
    assert "credit-risk" in client.get("/deployments/").content.decode()  # she sees the endpoint
    assert client.get(f"/endpoints/{endpoint.pk}/keys/").status_code == 403
    assert client.post(f"/endpoints/{endpoint.pk}/keys/", {"name": "x"}).status_code == 403
    assert client.post(f"/endpoints/{endpoint.pk}/keys/{key.pk}/revoke/").status_code == 403
    key.refresh_from_db()
    assert key.revoked_at is None and EndpointKey.objects.count() == 1


def test_the_demo_makes_fresh_traffic_keys_and_revokes_the_last_runs(endpoint):
    from apps.demo.management.commands.demo import DEMO_KEY_NAME, _demo_traffic_keys
    from apps.demo.traffic import headers_for

    first = _demo_traffic_keys()
    second = _demo_traffic_keys()
    assert set(first) == set(second) == {"staging"} and first["staging"] != second["staging"]
    keys = EndpointKey.objects.filter(endpoint=endpoint, name=DEMO_KEY_NAME).order_by("id")
    assert [k.revoked_at is None for k in keys] == [False, True]
    assert keys.last().key_hash == hash_key(second["staging"])
    assert headers_for(second, "staging")["Authorization"] == f"Bearer {second['staging']}"
    assert "Authorization" not in headers_for(second, "production")
