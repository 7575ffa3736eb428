"""Failed sign-ins lock a user name, and separately an address, for a cool-off (django-axes)."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import ApiToken

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests"  # make_user's default
LOGIN = "/accounts/login/"


def sign_in(username, password, address):
    client = Client(REMOTE_ADDR=address)
    return client, client.post(LOGIN, {"username": username, "password": password})


def is_signed_in(client) -> bool:
    return client.get("/").status_code == 200


def fail(times, address, usernames=("dana",)):
    for i in range(times):
        _, response = sign_in(usernames[i % len(usernames)], "not-the-password", address)
        assert response.status_code in (200, 429)  # the form again, then the lockout page; never a 500


def test_defaults_lock_after_five_failures_for_fifteen_minutes():
    assert settings.AXES_FAILURE_LIMIT == 5
    assert settings.AXES_COOLOFF_TIME.total_seconds() == 15 * 60


def test_six_wrong_passwords_lock_the_account_even_from_another_address(make_user):
    make_user("dana")
    fail(6, "10.1.0.1")
    client, response = sign_in("dana", PASSWORD, "10.1.0.2")
    assert response.status_code == 429
    page = response.content.decode()
    assert "Sign-in locked" in page and "15 minutes" in page and "ask IT" in page
    assert not is_signed_in(client)
    # Another user, from the address that failed less than five times itself, is not affected.
    make_user("mark", team="Customer Insights")
    client, response = sign_in("mark", PASSWORD, "10.1.0.2")
    assert response.status_code == 302 and is_signed_in(client)


def test_six_wrong_passwords_across_accounts_lock_the_address(make_user):
    make_user("dana")
    fail(6, "10.2.0.1", usernames=("ann", "bob", "cyd", "dee", "eve", "fay"))  # none fails twice
    client, response = sign_in("dana", PASSWORD, "10.2.0.1")
    assert response.status_code == 429
    assert not is_signed_in(client)
    client, response = sign_in("dana", PASSWORD, "10.2.0.2")  # the account itself is not locked
    assert response.status_code == 302 and is_signed_in(client)


def test_the_lockout_ends_after_the_cool_off(make_user):
    make_user("dana")
    fail(5, "10.3.0.1")
    assert sign_in("dana", PASSWORD, "10.3.0.1")[1].status_code == 429
    from axes.models import AccessAttempt

    # Attempts while locked out do not prolong it: the cool-off runs from the fifth failure.
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    client, response = sign_in("dana", PASSWORD, "10.3.0.1")
    assert response.status_code == 302 and is_signed_in(client)


def test_it_lifts_a_lockout_with_axes_reset_username(make_user, capsys):
    make_user("dana")
    fail(5, "10.4.0.1")
    assert sign_in("dana", PASSWORD, "10.4.0.9")[1].status_code == 429
    call_command("axes_reset_username", "dana")
    assert "attempts removed" in capsys.readouterr().out
    client, response = sign_in("dana", PASSWORD, "10.4.0.9")
    assert response.status_code == 302 and is_signed_in(client)


def test_the_token_login_of_the_cli_is_locked_out_too(make_user):
    user = make_user("dana")
    api = APIClient(REMOTE_ADDR="10.5.0.1")
    for _ in range(6):
        wrong = {"username": "dana", "password": "not-the-password"}
        assert api.post("/api/v1/auth/token/", wrong, format="json").status_code in (401, 429)
    response = api.post("/api/v1/auth/token/", {"username": "dana", "password": PASSWORD}, format="json")
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.json()["detail"]
    assert "15 minutes" in response.json()["detail"]
    assert not ApiToken.objects.filter(user=user).exists()
    # The web page and the API share one count: the page refuses dana too.
    assert sign_in("dana", PASSWORD, "10.5.0.2")[1].status_code == 429


def test_behind_a_trusted_proxy_the_forwarded_address_counts(make_user, settings):
    settings.MODELYARD_TRUSTED_PROXY_COUNT = 1
    make_user("dana")
    for i in range(6):  # six people behind the proxy, each failing once from their own address
        Client(REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR=f"10.6.0.{i}").post(
            LOGIN, {"username": f"user{i}", "password": "not-the-password"}
        )
    # The proxy's own address is not locked: dana signs in through it from a fresh address.
    client = Client(REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="10.6.1.1")
    assert client.post(LOGIN, {"username": "dana", "password": PASSWORD}).status_code == 302
    # A client cannot dodge the count by prepending addresses of its own: the proxy appends the real one.
    for fake in range(6):
        Client(REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR=f"1.1.1.{fake}, 10.6.2.2").post(
            LOGIN, {"username": f"other{fake}", "password": "not-the-password"}
        )
    client = Client(REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="1.1.1.99, 10.6.2.2")
    assert client.post(LOGIN, {"username": "dana", "password": PASSWORD}).status_code == 429
