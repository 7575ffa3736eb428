"""A user sees only what their role and team allow; another team's objects are a 404."""

import pytest

from apps.accounts.roles import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def credit_version(make_user, api_for, post_credit_version):
    response = post_credit_version(api_for(make_user("dana", team="Credit Risk")))
    assert response.status_code == 201, response.json()
    return response.json()


def test_other_team_gets_404_everywhere(make_user, api_for, client, credit_version):
    mark = make_user("mark", team="Customer Insights")
    api = api_for(mark)
    model_id, version_id = credit_version["model"], credit_version["id"]
    for url in (
        f"/api/v1/models/{model_id}/",
        f"/api/v1/models/{model_id}/versions/",
        f"/api/v1/versions/{version_id}/",
        f"/api/v1/versions/{version_id}/artifact/",
        f"/api/v1/versions/{version_id}/reference/",
    ):
        assert api.get(url).status_code == 404, url
    assert api.post(f"/api/v1/versions/{version_id}/stage/", {"stage": "production"}).status_code == 404
    assert api.get("/api/v1/models/").json()["count"] == 0
    assert api.get("/api/v1/versions/").json()["count"] == 0
    assert api.get("/api/v1/audit-events/").json()["count"] == 0
    assert api.get(f"/api/v1/jobs/{credit_version['job']}/").status_code == 404
    # The pages follow the same rule.
    client.force_login(mark)
    assert client.get(f"/models/{model_id}/").status_code == 404
    assert client.get(f"/versions/{version_id}/").status_code == 404
    assert b"credit-default" not in client.get("/models/").content
    # Registering into a team you are not in names the problem without revealing the team.
    response = api.post(
        "/api/v1/models/", {"name": "x", "task_type": "regression", "team": "credit-risk"}, format="json"
    )
    assert response.status_code == 400 and "team" in response.json()


def test_own_team_it_and_sponsor_see_the_model(make_user, api_for, credit_version):
    model_id = credit_version["model"]
    dana_teammate = make_user("dora", team="Credit Risk")
    ivan = make_user("ivan", Role.IT_OPERATOR, team=None)
    bea = make_user("bea", Role.BUSINESS_OWNER, team=None)
    other_owner = make_user("otto", Role.BUSINESS_OWNER, team=None)
    for user in (dana_teammate, ivan):
        assert api_for(user).get(f"/api/v1/models/{model_id}/").status_code == 200
    assert api_for(bea).get(f"/api/v1/models/{model_id}/").status_code == 404
    dana = api_for(make_user("dana"))
    response = dana.patch(f"/api/v1/models/{model_id}/", {"business_owner": "bea"}, format="json")
    assert response.status_code == 200, response.json()
    assert api_for(bea).get(f"/api/v1/models/{model_id}/").status_code == 200
    assert api_for(other_owner).get(f"/api/v1/models/{model_id}/").status_code == 404
    # A sponsor reads but does not write; IT may change stages but not the model's description.
    assert (
        api_for(bea).patch(f"/api/v1/models/{model_id}/", {"description": "x"}, format="json").status_code
        == 403
    )
    version_id = credit_version["id"]
    assert (
        api_for(bea).post(f"/api/v1/versions/{version_id}/stage/", {"stage": "archived"}).status_code == 403
    )
    assert (
        api_for(ivan).post(f"/api/v1/versions/{version_id}/stage/", {"stage": "staging"}).status_code == 200
    )
    assert (
        api_for(ivan).patch(f"/api/v1/models/{model_id}/", {"description": "x"}, format="json").status_code
        == 403
    )


def test_unauthenticated_and_bad_tokens_are_refused(client, credit_version):
    from rest_framework.test import APIClient

    anonymous = APIClient()
    assert anonymous.get("/api/v1/models/").status_code == 401
    anonymous.credentials(HTTP_AUTHORIZATION="Token my_not-a-real-token")
    response = anonymous.get("/api/v1/models/")
    assert response.status_code == 401 and "Invalid or revoked" in response.json()["detail"]
    assert client.get("/models/").status_code == 302  # pages send you to the login
