"""Staging, then production with approval, canary, promote and rollback — through the API."""

import pytest

from apps.accounts.roles import Role
from apps.core.models import AuditEvent
from apps.deployments.models import Deployment
from apps.deployments.routing import load_routes
from apps.deployments.services import deployment_rollout_run

pytestmark = pytest.mark.django_db


def roll_out(deployment_id):
    """What the rollout job does, run here in-process (the worker path is tested elsewhere)."""
    deployment = Deployment.objects.get(pk=deployment_id)
    return deployment_rollout_run(deployment=deployment, step=lambda p, m: None)


def live(endpoint="credit-risk", environment="production"):
    route = {(r.environment, r.endpoint): r for r in load_routes()}.get((environment, endpoint))
    return sorted((a.version_number, a.role, a.percent) for a in route.arms) if route else []


def test_staging_then_production_canary_promote_and_rollback(packaged_version, make_user, api_for):
    v1, v2 = packaged_version(seed=1), packaged_version(seed=2)
    dana = api_for(make_user("dana"))
    ivan_user = make_user("ivan", Role.IT_OPERATOR, team=None)
    ivan = api_for(ivan_user)

    staged = dana.post("/api/v1/deployments/", {"version": v1.pk, "endpoint": "credit-risk"}, format="json")
    assert staged.status_code == 201, staged.json()
    assert staged.json()["status"] == "rolling_out" and staged.json()["environment"] == "staging"
    roll_out(staged.json()["id"])
    assert live(environment="staging") == [(1, "primary", 100.0)]

    asked = dana.post(
        "/api/v1/deployments/",
        {"version": v1.pk, "endpoint": "credit-risk", "environment": "production"},
        format="json",
    )
    assert asked.status_code == 201 and asked.json()["status"] == "pending_approval"
    assert dana.post(f"/api/v1/deployments/{asked.json()['id']}/approve/").status_code == 403
    approved = ivan.post(f"/api/v1/deployments/{asked.json()['id']}/approve/", {"reason": "validated"})
    assert approved.status_code == 200 and approved.json()["decided_by"] == "ivan"
    roll_out(asked.json()["id"])
    assert live() == [(1, "primary", 100.0)]

    canary = dana.post(
        "/api/v1/deployments/",
        {
            "version": v2.pk,
            "endpoint": "credit-risk",
            "environment": "production",
            "strategy": "canary",
            "percent": 10,
        },
        format="json",
    )
    assert canary.status_code == 201, canary.json()
    ivan.post(f"/api/v1/deployments/{canary.json()['id']}/approve/")
    roll_out(canary.json()["id"])
    assert live() == [(1, "primary", 100.0), (2, "canary", 10.0)]

    endpoint_id = ivan.get(
        "/api/v1/endpoints/", {"name": "credit-risk", "environment__name": "production"}
    ).json()["results"][0]["id"]
    promoted = ivan.post(f"/api/v1/endpoints/{endpoint_id}/promote/", {"reason": "canary healthy for a day"})
    assert promoted.status_code == 200, promoted.json()
    assert live() == [(2, "primary", 100.0)]

    back = ivan.post(f"/api/v1/endpoints/{endpoint_id}/rollback/", {"reason": "approval rate fell"})
    assert back.status_code == 200 and back.json()["version_number"] == 1
    assert live() == [(1, "primary", 100.0)]
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {
        "deployment.requested",
        "deployment.approved",
        "deployment.live",
        "deployment.promoted",
        "deployment.rolled_back",
    } <= actions
    rolled = AuditEvent.objects.get(action="deployment.rolled_back")
    assert rolled.actor == ivan_user and rolled.details["reason"] == "approval rate fell"


def test_bad_deployment_requests_say_what_is_wrong(
    packaged_version, make_user, api_for, failed_validation_build
):
    v1 = packaged_version()
    dana = api_for(make_user("dana"))

    def ask(**fields):
        return dana.post(
            "/api/v1/deployments/", {"version": v1.pk, "endpoint": "credit-risk", **fields}, format="json"
        )

    assert "environment" in ask(environment="qa").json()
    assert "percent" in ask(strategy="canary").json()
    assert "percent" in ask(strategy="canary", percent=100).json()
    assert "needs a live version" in ask(strategy="shadow").json()["strategy"][0]
    assert "lower-case" in ask(endpoint="Credit Risk!").json()["endpoint"][0]
    response = dana.post("/api/v1/deployments/", {"version": 999999, "endpoint": "x"}, format="json")
    assert response.status_code == 404
    failed = dana.post(
        "/api/v1/deployments/",
        {"version": failed_validation_build.version_id, "endpoint": "rules", "environment": "production"},
        format="json",
    )
    assert failed.status_code == 400 and "validation failed" in failed.json()["version"][0]
    assert Deployment.objects.count() == 0


def test_other_teams_cannot_see_or_deploy(packaged_version, make_user, api_for):
    v1 = packaged_version()
    dana = api_for(make_user("dana"))
    deployment = dana.post(
        "/api/v1/deployments/", {"version": v1.pk, "endpoint": "credit-risk"}, format="json"
    )
    mark = api_for(make_user("mark", team="Customer Insights"))
    assert mark.get(f"/api/v1/deployments/{deployment.json()['id']}/").status_code == 404
    assert mark.get("/api/v1/endpoints/").json()["count"] == 0
    assert (
        mark.post("/api/v1/deployments/", {"version": v1.pk, "endpoint": "x"}, format="json").status_code
        == 404
    )
