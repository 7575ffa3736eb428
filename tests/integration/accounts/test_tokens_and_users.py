import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from apps.accounts.models import ApiToken, Team
from apps.accounts.roles import Role
from apps.accounts.services import token_revoke

pytestmark = pytest.mark.django_db


def test_create_user_command_prints_a_working_token(capsys):
    call_command(
        "create_user", "alice", "--team", "Fraud", "--role", "data_scientist", "--password", "s3cret-pass"
    )
    key = capsys.readouterr().out.strip()
    assert key.startswith("my_")
    team = Team.objects.get(slug="fraud")
    assert team.members.filter(username="alice").exists()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    me = api.get("/api/v1/me/").json()
    assert me == {
        "username": "alice",
        "roles": ["data_scientist"],
        "role": "data_scientist",
        "teams": ["fraud"],
    }
    # Only the hash is stored.
    assert not ApiToken.objects.filter(key_hash=key).exists()
    assert ApiToken.objects.get(user__username="alice").key_hash != key


def test_a_second_create_user_changes_the_role_and_every_change_is_audited(capsys):
    from apps.core.models import AuditEvent

    call_command("create_user", "zed", "--team", "Fraud", "--role", "data_scientist")
    call_command("create_user", "zed", "--role", "business_owner")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {capsys.readouterr().out.split()[-1]}")
    assert api.get("/api/v1/me/").json()["roles"] == ["business_owner"]  # one role, the last given
    events = list(AuditEvent.objects.order_by("id").values_list("action", "object_repr", "details"))
    assert [(a, r) for a, r, _ in events] == [
        ("team.created", "Fraud"),
        ("user.created", "zed"),
        ("token.created", "zed · create_user (" + events[2][2]["prefix"] + "…)"),
        ("user.updated", "zed"),
        ("token.created", "zed · create_user (" + events[4][2]["prefix"] + "…)"),
    ]
    assert events[1][2] == {"role": "data_scientist", "password_set": False}
    assert events[3][2] == {"role": "business_owner", "password_set": False}
    token = ApiToken.objects.filter(user__username="zed").first()
    token_revoke(user=token.user, token_id=token.pk)
    token_revoke(user=token.user, token_id=token.pk)  # twice: recorded once
    revoked = AuditEvent.objects.filter(action="token.revoked")
    assert revoked.count() == 1 and revoked.get().actor == token.user


def test_create_user_needs_a_team_for_data_scientists():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="needs --team"):
        call_command("create_user", "bob", "--role", "data_scientist")


def test_password_login_issues_token_and_revocation_works(make_user):
    user = make_user("dana", password="correct-horse")
    api = APIClient()
    wrong = api.post("/api/v1/auth/token/", {"username": "dana", "password": "nope"}, format="json")
    assert wrong.status_code == 401
    response = api.post(
        "/api/v1/auth/token/", {"username": "dana", "password": "correct-horse"}, format="json"
    )
    assert response.status_code == 201
    key = response.json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert api.get("/api/v1/me/").status_code == 200
    token = ApiToken.objects.get(user=user)
    assert token.last_used_at is not None
    token_revoke(user=user, token_id=token.pk)
    assert api.get("/api/v1/me/").status_code == 401


def test_roles_are_groups_with_permissions(make_user):
    ivan = make_user("ivan", Role.IT_OPERATOR, team=None)
    bea = make_user("bea", Role.BUSINESS_OWNER, team=None)
    assert ivan.has_perm("registry.view_modelversion") and not ivan.has_perm("registry.change_modelversion")
    assert not ivan.has_perm("registry.add_registeredmodel")
    assert bea.has_perm("registry.view_registeredmodel")
    assert not bea.has_perm("registry.change_modelversion")


def test_it_operators_edit_the_packaging_policy_in_the_admin(make_user, client):
    from apps.packaging.models import PackagingPolicy

    ivan = make_user("ivan", Role.IT_OPERATOR, team=None)
    policy = PackagingPolicy.current()
    client.force_login(ivan)
    url = f"/admin/packaging/packagingpolicy/{policy.pk}/change/"
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            "skops_trusted_types": '["sklearn.pipeline.Pipeline"]',
            "latency_budget_ms_per_row": "5",
            "sandbox_memory_mb": "2048",
            "sandbox_cpu_seconds": "60",
            "sandbox_timeout_seconds": "90",
        },
    )
    assert response.status_code == 302
    policy.refresh_from_db()
    assert policy.skops_trusted_types == ["sklearn.pipeline.Pipeline"] and policy.updated_by == ivan
    # Data scientists are not staff: the policy is not theirs to change.
    client.force_login(make_user("dana"))
    assert client.get(url).status_code == 302
