"""API tokens expire; signing in again with `replaces` rotates the saved one; schema and docs need a user."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import ApiToken, hash_token
from apps.accounts.services import token_create
from apps.core.models import AuditEvent

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests"


def with_token(key) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api


def token_login(**body):
    return APIClient(REMOTE_ADDR="10.20.0.1").post("/api/v1/auth/token/", body, format="json")


def test_a_new_token_lasts_thirty_days(make_user):
    user = make_user("dana")
    before = timezone.now()
    key = token_create(user=user)
    token = ApiToken.objects.get(key_hash=hash_token(key))
    assert before + timedelta(days=30) <= token.expires_at <= timezone.now() + timedelta(days=30)
    event = AuditEvent.objects.get(action="token.created", object_id=token.pk)
    assert event.details["expires_at"] == token.expires_at.isoformat()


def test_an_expired_token_gets_401_saying_so_and_what_to_do(make_user, client):
    user = make_user("dana")
    key = token_create(user=user)
    assert with_token(key).get("/api/v1/me/").status_code == 200
    ApiToken.objects.filter(user=user).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = with_token(key).get("/api/v1/me/")
    assert response.status_code == 401
    detail = response.json()["detail"]
    assert detail.startswith("API token expired at ")
    assert "run `modelyard login` again" in detail
    # An unknown key still gets the plain answer, which says nothing about expiry.
    unknown = with_token("my_not-a-key").get("/api/v1/me/")
    assert unknown.status_code == 401 and "expired" not in unknown.json()["detail"]
    client.force_login(user)
    assert "expired</span>" in client.get("/accounts/tokens/").content.decode()  # the tokens page says so


def test_signing_in_again_revokes_the_token_it_replaces(make_user):
    make_user("dana")
    first = token_login(username="dana", password=PASSWORD)
    assert first.status_code == 201 and first.json()["replaced"] is False
    old_key = first.json()["token"]
    second = token_login(username="dana", password=PASSWORD, replaces=old_key)
    assert second.status_code == 201
    body = second.json()
    assert body["replaced"] is True and body["token"] != old_key
    assert body["expires_at"]
    assert with_token(old_key).get("/api/v1/me/").status_code == 401
    assert with_token(body["token"]).get("/api/v1/me/").status_code == 200
    revoked = AuditEvent.objects.get(action="token.revoked")
    assert revoked.details == {"reason": f"replaced by {body['token'][:10]}…"}
    assert revoked.actor.username == "dana"


def test_replaces_never_touches_another_users_token(make_user):
    make_user("dana")
    mark = make_user("mark", team="Customer Insights")
    marks_key = token_create(user=mark)
    response = token_login(username="dana", password=PASSWORD, replaces=marks_key)
    assert response.status_code == 201 and response.json()["replaced"] is False
    assert with_token(marks_key).get("/api/v1/me/").status_code == 200
    assert not AuditEvent.objects.filter(action="token.revoked").exists()


def test_schema_and_docs_need_a_signed_in_user(make_user, api_for, client):
    assert APIClient().get("/api/schema/").status_code == 401
    docs = client.get("/api/docs/")
    assert docs.status_code == 302 and docs.url.startswith("/accounts/login/")
    dana = make_user("dana")
    schema = api_for(dana).get("/api/schema/")  # an API token is enough for the schema
    assert schema.status_code == 200 and b"/api/v1/auth/token/" in schema.content
    client.force_login(dana)
    assert client.get("/api/docs/").status_code == 200
    assert client.get("/api/schema/").status_code == 200  # what the Swagger page fetches


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_existing_tokens_thirty_days_from_the_upgrade(make_user):
    user = make_user("dana")
    executor = MigrationExecutor(connection)
    executor.migrate([("accounts", "0001_initial")])
    old_apps = executor.loader.project_state([("accounts", "0001_initial")]).apps
    old_apps.get_model("accounts", "ApiToken").objects.create(
        user_id=user.pk, name="old", prefix="my_old", key_hash="0" * 64
    )
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    token = ApiToken.objects.get(name="old")
    assert abs(token.expires_at - (timezone.now() + timedelta(days=30))) < timedelta(minutes=5)
