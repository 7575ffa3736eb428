"""The deployments page: approvals for IT, live versions with their traffic, history."""

import pytest

from apps.accounts.roles import Role
from apps.deployments.models import Deployment
from apps.deployments.services import deployment_rollout_run

pytestmark = pytest.mark.django_db


def test_deploy_from_the_version_page_and_approve_on_the_deployments_page(
    packaged_version, make_user, client
):
    version = packaged_version()
    dana = make_user("dana")
    client.force_login(dana)
    page = client.get(f"/versions/{version.pk}/").content.decode()
    assert 'data-testid="deploy-form"' in page
    client.post(f"/versions/{version.pk}/deploy/", {"endpoint": "credit-risk", "environment": "production"})
    deployment = Deployment.objects.get()
    assert deployment.status == "pending_approval"
    page = client.get("/deployments/").content.decode()
    assert "an IT operator decides" in page

    ivan = make_user("ivan", Role.IT_OPERATOR, team=None)
    client.force_login(ivan)
    assert "Approve" in client.get("/deployments/").content.decode()
    assert 'data-testid="approvals-waiting">1<' in client.get("/").content.decode()
    client.post(f"/deployments/{deployment.pk}/approve/", {"reason": "ok"})
    deployment.refresh_from_db()
    assert deployment.status == "rolling_out" and deployment.decided_by == ivan
    deployment_rollout_run(deployment=deployment, step=lambda p, m: None)
    page = client.get("/deployments/").content.decode()
    assert "answers" in page and "/v1/endpoints/credit-risk/predict" in page

    response = client.post(f"/endpoints/{deployment.endpoint_id}/rollback/", {"reason": "test"}, follow=True)
    assert "no earlier version to roll back to" in response.content.decode()


def test_bad_deploy_form_input_is_a_message_not_an_error(packaged_version, make_user, client):
    version = packaged_version()
    client.force_login(make_user("dana"))
    response = client.post(
        f"/versions/{version.pk}/deploy/",
        {"endpoint": "credit-risk", "strategy": "canary", "percent": "abc"},
        follow=True,
    )
    assert response.status_code == 200
    assert "a canary takes a share of traffic" in response.content.decode()
    assert not Deployment.objects.exists()


def _endpoint_field(page: str) -> str:
    import re

    return re.search(r'<input id="id_endpoint" name="endpoint" value="([^"]*)"', page).group(1)


def test_the_deploy_form_offers_the_endpoint_the_model_already_runs_on(packaged_version, make_user, client):
    first = packaged_version(name="Credit.Default")
    client.force_login(make_user("dana"))
    # Never deployed: a valid endpoint name made from the model's.
    assert _endpoint_field(client.get(f"/versions/{first.pk}/").content.decode()) == "credit-default"
    client.post(f"/versions/{first.pk}/deploy/", {"endpoint": "credit-risk", "environment": "staging"})
    assert Deployment.objects.get().endpoint.name == "credit-risk"

    second = packaged_version(name="Credit.Default", seed=1)
    page = client.get(f"/versions/{second.pk}/").content.decode()
    assert _endpoint_field(page) == "credit-risk"  # not a stray endpoint named after the model
    assert '<option value="credit-risk">' in page and "this model runs on credit-risk" in page
    client.post(
        f"/versions/{second.pk}/deploy/", {"endpoint": _endpoint_field(page), "environment": "staging"}
    )
    assert sorted(d.endpoint.name for d in Deployment.objects.all()) == ["credit-risk", "credit-risk"]
