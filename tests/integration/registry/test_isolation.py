"""A user sees only what their role and team allow; another team's objects are a 404."""

import json

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
    events = api.get("/api/v1/audit-events/").json()["results"]
    assert events and {e["action"] for e in events} <= {"team.created", "user.created", "token.created"}
    assert "credit" not in json.dumps(events).lower()  # only their own team's and their own events
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


def test_a_sponsor_reads_the_models_history_but_cannot_queue_work(make_user, api_for, credit_version):
    bea = make_user("bea", Role.BUSINESS_OWNER, team=None)
    dana = api_for(make_user("dana"))
    dana.patch(f"/api/v1/models/{credit_version['model']}/", {"business_owner": "bea"}, format="json")
    actions = {e["action"] for e in api_for(bea).get("/api/v1/audit-events/").json()["results"]}
    assert {"model.created", "version.registered", "model.updated"} <= actions
    assert not actions & {"user.created", "team.created", "token.created"}  # the team's other business
    refused = api_for(bea).post(f"/api/v1/versions/{credit_version['id']}/profile/")
    assert refused.status_code == 403 and "owning team or IT" in refused.json()["detail"]
    assert dana.post(f"/api/v1/versions/{credit_version['id']}/profile/").status_code == 202


def test_the_owning_team_downloads_what_it_registered(
    make_user, api_for, credit_version, credit_model_bytes, credit_csv_bytes
):
    api = api_for(make_user("dana"))
    artifact = api.get(f"/api/v1/versions/{credit_version['id']}/artifact/")
    assert artifact.status_code == 200 and b"".join(artifact.streaming_content) == credit_model_bytes
    assert 'filename="model.joblib"' in artifact["Content-Disposition"]
    reference = api.get(f"/api/v1/versions/{credit_version['id']}/reference/")
    assert reference.status_code == 200 and b"".join(reference.streaming_content) == credit_csv_bytes


def test_teams_jobs_and_server_endpoints_follow_the_same_scope(make_user, api_for, credit_version, settings):
    dana, mark = api_for(make_user("dana")), api_for(make_user("mark", team="Customer Insights"))
    ivan = api_for(make_user("ivan", Role.IT_OPERATOR, team=None))
    assert [t["slug"] for t in dana.get("/api/v1/teams/").json()["results"]] == ["credit-risk"]
    assert [t["slug"] for t in mark.get("/api/v1/teams/").json()["results"]] == ["customer-insights"]
    assert {t["slug"] for t in ivan.get("/api/v1/teams/").json()["results"]} == {
        "credit-risk",
        "customer-insights",
    }
    jobs = dana.get("/api/v1/jobs/").json()["results"]
    assert {j["kind"] for j in jobs} == {"registry.profile_reference", "packaging.build"}
    assert credit_version["job"] in [j["id"] for j in jobs]
    assert mark.get("/api/v1/jobs/").json()["results"] == []
    assert ivan.get(f"/api/v1/jobs/{credit_version['job']}/").status_code == 200
    assert dana.get("/api/v1/server/").json() == {"inference_url": settings.MODELYARD_INFERENCE_URL}


def test_logout_ends_the_session(make_user, client):
    make_user("dana", password="pw-for-tests")
    assert (
        client.post("/accounts/login/", {"username": "dana", "password": "pw-for-tests"}).status_code == 302
    )
    assert client.get("/models/").status_code == 200
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/models/").status_code == 302


def test_every_model_is_in_the_admin_and_its_list_renders(make_user, client, credit_version):
    from django.apps import apps
    from django.contrib import admin

    ours = [m for m in apps.get_models() if m.__module__.startswith("apps.")]
    assert [m.__name__ for m in ours if m not in admin.site._registry] == []
    client.force_login(make_user("root", Role.ADMIN, team=None))
    for model in ours:
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        assert client.get(url).status_code == 200, url
