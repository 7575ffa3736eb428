"""Pages cached per user and data version (apps.accounts.page_cache) on the demo's monitoring
history: a second request is served from the cache, a person's decision shows on the very next
request, the cached page's forms carry this browser's CSRF token, and no user — of another team,
another role, or one who has just left the team — ever gets a page cached for someone else."""

import re

import pytest
from django.http import HttpRequest
from django.test import Client
from django.urls import reverse

from apps.accounts.models import Team
from apps.monitoring.models import Alert
from tests.integration.monitoring_pages.conftest import PASSWORD, income_alert
from tests.integration.monitoring_pages.test_pages import model_page

pytestmark = pytest.mark.django_db


def logged_in(username, **options) -> Client:
    client = Client(**options)
    assert client.login(request=HttpRequest(), username=username, password=PASSWORD)
    return client


def open_alerts_table(page: str) -> str:
    return re.search(r'data-testid="alert-table">(.*?)</table>', page, re.S).group(1)


def test_a_cached_page_shows_a_decision_on_the_next_request(history, django_assert_max_num_queries):
    # CSRF checks on, as for a browser: the cached page's forms must carry this session's token.
    dana = logged_in("dana", enforce_csrf_checks=True)
    alert = income_alert(history)
    alert_url = reverse("monitoring:alert-detail", args=[alert.pk])
    first = model_page(dana, history).content.decode()
    assert f'href="{alert_url}"' in open_alerts_table(first)
    with django_assert_max_num_queries(3):  # the session's user; the page itself from the cache
        again = model_page(dana, history)
    assert again.status_code == 200
    assert open_alerts_table(again.content.decode()) == open_alerts_table(first)

    dana.get(alert_url)
    cached = dana.get(alert_url).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', cached).group(1)
    act = reverse("monitoring:alert-action", args=[alert.pk])
    done = dana.post(act, {"action": "resolve", "reason": "the campaign ended", "csrfmiddlewaretoken": token})
    assert done.status_code == 302
    assert Alert.objects.get(pk=alert.pk).state == "resolved"

    after = model_page(dana, history).content.decode()
    assert f'href="{alert_url}"' not in open_alerts_table(after)
    assert 'data-testid="action-' not in dana.get(alert_url).content.decode()  # resolved: no forms


def test_no_user_gets_a_page_cached_for_another(history, people):
    model_url = reverse("monitoring:model", args=[history.deployment.version.model_id])
    alerts_url = reverse("monitoring:alert-list")
    dana = logged_in("dana")
    for url in (model_url, alerts_url, reverse("dashboards:home")):
        assert dana.get(url).status_code == 200
    assert "Income" in dana.get(alerts_url).content.decode()

    mark = logged_in("mark")  # another team: the same addresses, none of dana's pages
    assert mark.get(model_url).status_code == 404
    assert "Income" not in mark.get(alerts_url).content.decode()
    assert 'data-testid="open-alerts">0<' in mark.get(reverse("dashboards:home")).content.decode()
    for name in ("bea", "ivan"):  # who may see the page gets their own, with their own header
        page = logged_in(name).get(model_url).content.decode()
        assert f'data-testid="who">{name} ·' in page and 'data-testid="heatmap"' in page

    # Leaving the team takes effect on the next request, cached page or not.
    Team.objects.get(name="Credit Risk").members.remove(people["dana"])
    assert dana.get(model_url).status_code == 404
    assert "Income" not in dana.get(alerts_url).content.decode()
