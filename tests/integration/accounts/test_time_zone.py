"""Each person reads times in their own zone: set on their settings page, kept in their session,
and used by the pages' window labels. A bad zone is refused with the reason; nothing is saved."""

import html
import json
import re

import pytest
from django.test import Client
from django.urls import reverse

from apps.accounts.models import Profile
from apps.monitoring.models import Monitor
from tests.integration.kpis.test_pages_demo import PASSWORD, demo, logged_in  # noqa: F401  (demo: a fixture)

pytestmark = pytest.mark.django_db


def _heatmap_title(client, model_pk, monitor_pk) -> str:
    page = client.get(reverse("monitoring:model", args=[model_pk]), {"monitor": monitor_pk, "window": "day"})
    assert page.status_code == 200
    figure = re.search(r'data-testid="heatmap" data-figure="([^"]*)"', page.content.decode()).group(1)
    return json.loads(html.unescape(figure))["layout"]["xaxis"]["title"]["text"]


def test_a_person_sets_their_zone_and_the_pages_use_it(demo, make_user):  # noqa: F811
    monitor = Monitor.objects.get(deployment=demo["deployment"])
    model_pk = monitor.deployment.version.model_id
    dana = logged_in("dana")
    assert _heatmap_title(dana, model_pk, monitor.pk) == "daily windows (UTC)"

    refused = dana.post(reverse("accounts:settings"), {"time_zone": "Mars/Olympus"})
    assert refused.status_code == 400 and "is not a time zone name" in refused.content.decode()
    assert not Profile.objects.filter(user__username="dana").exists()

    saved = dana.post(reverse("accounts:settings"), {"time_zone": "Pacific/Auckland"})
    assert saved.status_code == 302
    assert Profile.objects.get(user__username="dana").time_zone == "Pacific/Auckland"
    assert _heatmap_title(dana, model_pk, monitor.pk) == "daily windows (Pacific/Auckland)"
    # Signing in again (a new browser) finds the saved zone; a teammate keeps the site's.
    assert _heatmap_title(logged_in("dana"), model_pk, monitor.pk) == "daily windows (Pacific/Auckland)"
    make_user("dora", password=PASSWORD)
    assert _heatmap_title(logged_in("dora"), model_pk, monitor.pk) == "daily windows (UTC)"

    back = dana.post(reverse("accounts:settings"), {"time_zone": ""})
    assert back.status_code == 302 and _heatmap_title(dana, model_pk, monitor.pk) == "daily windows (UTC)"


def test_the_settings_page_needs_a_sign_in_and_shows_the_zone(make_user):
    assert Client().get(reverse("accounts:settings")).status_code == 302
    make_user("dana", password=PASSWORD)
    dana = logged_in("dana")
    dana.post(reverse("accounts:settings"), {"time_zone": "Europe/Paris"})
    page = dana.get(reverse("accounts:settings")).content.decode()
    assert '<option value="Europe/Paris" selected>' in page
