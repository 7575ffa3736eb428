"""Which features of an endpoint refuse values outside the schema's range: set through the API by
the endpoint's team or IT, checked against the deployed version's schema, audited, and carried to
the inference service in its routes."""

import pytest

from apps.accounts.roles import Role
from apps.core.models import AuditEvent
from apps.deployments.models import Deployment, Endpoint
from apps.deployments.routing import load_routes
from apps.deployments.services import deployment_request, deployment_rollout_run
from apps.registry.models import ModelVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(packaged_version, make_user) -> Endpoint:
    version = packaged_version()
    dana = version.model.team.members.get(username="dana")
    deployment = deployment_request(user=dana, version=version, endpoint="credit-risk", environment="staging")
    deployment_rollout_run(deployment=Deployment.objects.get(pk=deployment.pk), step=lambda p, m: None)
    return Endpoint.objects.get(pk=deployment.endpoint_id)


def _route(endpoint: Endpoint):
    return {(r.environment, r.endpoint): r for r in load_routes()}[("staging", endpoint.name)]


def test_the_team_sets_the_features_that_refuse_and_the_routes_carry_them(
    endpoint, api_for, make_user, client
):
    dana = api_for(endpoint.team.members.get(username="dana"))
    assert dana.get(f"/api/v1/endpoints/{endpoint.pk}/").json()["refuse_outside_range"] == []
    assert _route(endpoint).refuse_outside == frozenset()

    answer = dana.patch(
        f"/api/v1/endpoints/{endpoint.pk}/", {"refuse_outside_range": ["Price", "Age", "Age"]}, format="json"
    )

    assert answer.status_code == 200, answer.json()
    assert answer.json()["refuse_outside_range"] == ["Age", "Price"]
    assert _route(endpoint).refuse_outside == frozenset({"Age", "Price"})
    event = AuditEvent.objects.get(action="endpoint.outside_range_set")
    assert event.actor.username == "dana" and event.object_id == endpoint.pk
    assert event.details == {
        "endpoint": "credit-risk",
        "environment": "staging",
        "refuse_outside_range": ["Age", "Price"],
        "previous": [],
    }

    client.force_login(endpoint.team.members.get(username="dana"))
    page = client.get("/deployments/").content.decode()
    assert "refuses values outside the reference range of Age, Price" in page

    ivan = api_for(make_user("ivan", Role.IT_OPERATOR, team=None))
    cleared = ivan.patch(f"/api/v1/endpoints/{endpoint.pk}/", {"refuse_outside_range": []}, format="json")
    assert cleared.status_code == 200 and cleared.json()["refuse_outside_range"] == []
    assert _route(endpoint).refuse_outside == frozenset()
    assert AuditEvent.objects.filter(action="endpoint.outside_range_set").count() == 2
    # The same setting again changes nothing and records nothing.
    again = ivan.patch(f"/api/v1/endpoints/{endpoint.pk}/", {"refuse_outside_range": []}, format="json")
    assert again.status_code == 200
    assert AuditEvent.objects.filter(action="endpoint.outside_range_set").count() == 2


def test_a_feature_that_is_not_in_the_schema_is_a_400_naming_it(endpoint, api_for):
    dana = api_for(endpoint.team.members.get(username="dana"))
    answer = dana.patch(
        f"/api/v1/endpoints/{endpoint.pk}/", {"refuse_outside_range": ["Age", "Salary"]}, format="json"
    )
    assert answer.status_code == 400
    message = " ".join(answer.json()["refuse_outside_range"])
    assert "'Salary': no such feature in the input schema of credit v1 on endpoint 'credit-risk'" in message
    assert "Seniority" in message  # the features it has are listed
    assert "'Age'" not in message
    not_a_list = dana.patch(
        f"/api/v1/endpoints/{endpoint.pk}/", {"refuse_outside_range": "Age"}, format="json"
    )
    assert not_a_list.status_code == 400 and "refuse_outside_range" in not_a_list.json()
    assert Endpoint.objects.get(pk=endpoint.pk).refuse_outside_range == []
    assert not AuditEvent.objects.filter(action="endpoint.outside_range_set").exists()


def test_a_feature_without_a_range_is_a_400_saying_so(endpoint, api_for):
    version = endpoint.deployments.get().version
    schema = {
        "features": [
            {**f, "min": None, "max": None} if f["name"] == "Time" else f
            for f in version.input_schema["features"]
        ]
    }
    ModelVersion.objects.filter(pk=version.pk).update(input_schema=schema)
    dana = api_for(endpoint.team.members.get(username="dana"))
    answer = dana.patch(
        f"/api/v1/endpoints/{endpoint.pk}/", {"refuse_outside_range": ["Time"]}, format="json"
    )
    assert answer.status_code == 400
    assert answer.json()["refuse_outside_range"] == [
        "'Time': the schema gives no min, max or categories for it, so no value can lie outside"
    ]


def test_another_team_finds_nothing_and_put_is_not_offered(endpoint, api_for, make_user):
    olga = api_for(make_user("olga", team="Fraud"))
    answer = olga.patch(f"/api/v1/endpoints/{endpoint.pk}/", {"refuse_outside_range": ["Age"]}, format="json")
    assert answer.status_code == 404
    dana = api_for(endpoint.team.members.get(username="dana"))
    put = dana.put(f"/api/v1/endpoints/{endpoint.pk}/", {"refuse_outside_range": ["Age"]}, format="json")
    assert put.status_code == 405
    assert Endpoint.objects.get(pk=endpoint.pk).refuse_outside_range == []
