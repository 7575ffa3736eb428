"""Before any traffic the pages say what to do instead of drawing empty charts."""

import pytest
from django.http import HttpRequest
from django.test import Client
from django.urls import reverse

from apps.monitoring.services import monitor_for_live_deployment
from tests.integration.monitoring.conftest import register_and_deploy
from tests.integration.monitoring_pages.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_a_monitor_without_predictions_says_to_send_traffic(people, credit_model_bytes, credit_frame):
    client = Client()
    assert client.login(request=HttpRequest(), username="dana", password=PASSWORD)
    deployment = register_and_deploy(
        people["dana"], model_bytes=credit_model_bytes, reference=credit_frame.sample(800, random_state=3)
    )
    url = reverse("monitoring:model", args=[deployment.version.model_id])
    monitor_for_live_deployment(deployment=deployment)
    page = client.get(url).content.decode()
    assert 'data-testid="no-predictions"' in page and "send traffic" in page
    assert 'data-testid="heatmap"' not in page
    overview = client.get(reverse("monitoring:overview")).content.decode()
    assert "credit-default" in overview
