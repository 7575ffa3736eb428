"""A browser session ends after an idle hour, and in any case twelve hours after sign-in."""

import time

import pytest
from django.conf import settings
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(make_user):
    make_user("dana")
    client = Client()
    response = client.post("/accounts/login/", {"username": "dana", "password": "pw-for-tests"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200  # the first request after sign-in starts the clocks
    return client


def shift(client, *, last_seen=None, signed_in=None):
    """Move the session's clocks back by that many seconds."""
    from apps.accounts.middleware import LAST_SEEN, SIGNED_IN

    session = client.session
    for key, ago in ((LAST_SEEN, last_seen), (SIGNED_IN, signed_in)):
        if ago is not None:
            session[key] = time.time() - ago
    session.save()


def test_the_defaults_are_an_idle_hour_and_twelve_hours_in_all():
    assert settings.MODELYARD_SESSION_IDLE_MINUTES == 60
    assert settings.MODELYARD_SESSION_MAX_HOURS == 12
    assert settings.SESSION_COOKIE_AGE == 12 * 3600


def test_a_session_idle_past_the_timeout_is_signed_out(signed_in):
    assert signed_in.session.get_expiry_age() <= 12 * 3600
    shift(signed_in, last_seen=61 * 60)
    response = signed_in.get("/")
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")
    page = signed_in.get(response.url).content.decode()
    assert "You were signed out after 60 minutes without activity" in page
    assert signed_in.get("/api/v1/me/").status_code in (401, 403)  # the session is gone for the API too


def test_activity_keeps_a_session_alive(signed_in):
    from apps.accounts.middleware import LAST_SEEN

    shift(signed_in, last_seen=59 * 60)
    assert signed_in.get("/").status_code == 200
    assert time.time() - signed_in.session[LAST_SEEN] < 60  # the request counted as activity
    assert signed_in.get("/").status_code == 200


def test_a_busy_session_still_ends_twelve_hours_after_sign_in(signed_in):
    shift(signed_in, signed_in=12 * 3600 + 60, last_seen=10)
    response = signed_in.get("/")
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")
    assert "12 hours after signing in" in signed_in.get(response.url).content.decode()


def test_the_idle_limit_is_configurable(signed_in, settings):
    settings.MODELYARD_SESSION_IDLE_MINUTES = 5
    shift(signed_in, last_seen=6 * 60)
    assert signed_in.get("/").status_code == 302
