"""The SLA page and the IT home's summary table: charts, empty periods, the SLO form, access."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.deployments.models import Endpoint, Environment
from apps.sla.models import Slo
from tests.integration.sla.conftest import store_minutes

pytestmark = pytest.mark.django_db


def test_it_sees_charts_workers_and_the_slo_form(client, people, credit):
    client.force_login(people["ivan"])
    page = client.get("/it/sla/", {"endpoint": "credit-risk", "environment": "production", "period": "6h"})
    assert page.status_code == 200
    html = page.content.decode()
    for chart in ("latency", "throughput", "errors", "budget", "cpu", "memory"):
        assert f'id="chart-{chart}"' in html
    assert "vendor/plotly/plotly.min.js" in html and 'data-testid="slo-form"' in html
    assert "99.917%" in html  # availability: 3 errors in 3600 requests
    assert "No traffic" not in html


def test_an_empty_period_says_so(client, people, credit):
    staging = Endpoint.objects.create(
        environment=Environment.objects.get(name="staging"), name="credit-risk", team=credit.team
    )
    client.force_login(people["ivan"])
    html = client.get("/it/sla/", {"endpoint": staging.name, "environment": "staging"}).content.decode()
    assert "No traffic to credit-risk (staging) in the last hour." in html
    assert 'id="chart-latency"' not in html


def test_data_scientists_read_their_teams_endpoints_only(client, people, credit):
    client.force_login(people["dana"])
    html = client.get("/it/sla/").content.decode()
    assert 'id="chart-latency"' in html
    assert 'data-testid="slo-form"' not in html and 'id="chart-cpu"' not in html  # IT's parts
    assert (
        client.post(f"/it/sla/slo/{credit.pk}/", {"latency_ms": 1, "availability_percent": 50}).status_code
        == 403
    )
    client.force_login(people["mark"])
    assert client.get("/it/sla/", {"endpoint": "credit-risk", "environment": "production"}).status_code == 404
    assert "No endpoints you can see" in client.get("/it/sla/").content.decode()
    assert (
        client.post(f"/it/sla/slo/{credit.pk}/", {"latency_ms": 1, "availability_percent": 50}).status_code
        == 404
    )


def test_the_slo_form_saves_and_shows_errors_on_the_form(client, people, credit):
    client.force_login(people["ivan"])
    bad = client.post(
        f"/it/sla/slo/{credit.pk}/", {"latency_percentile": 99, "latency_ms": -5, "availability_percent": 100}
    )
    assert bad.status_code == 400
    html = bad.content.decode()
    assert "the latency target must be above 0 ms" in html
    assert "the availability target is a percentage above 0 and below 100" in html
    assert not Slo.objects.exists()
    good = client.post(
        f"/it/sla/slo/{credit.pk}/",
        {"latency_percentile": 95, "latency_ms": 30, "availability_percent": 99.5},
    )
    assert good.status_code == 302 and "endpoint=credit-risk" in good["Location"]
    assert Slo.objects.get().latency_percentile == 95
    assert "SLO set by ivan" in client.get(good["Location"]).content.decode()


def test_it_home_summary_table_keeps_its_query_count(client, people, credit):
    client.force_login(people["ivan"])

    def queries():
        with CaptureQueriesContext(connection) as ctx:
            response = client.get("/")
        assert response.status_code == 200
        return len(ctx.captured_queries), response.content.decode()

    few, html = queries()
    assert 'data-testid="sla-table"' in html and "credit-risk" in html and "99.917%" in html
    for i in range(4):
        endpoint = Endpoint.objects.create(
            environment=Environment.objects.get(name="production"), name=f"other-{i}", team=credit.team
        )
        store_minutes(endpoint, minutes=5)
        Slo.objects.create(
            endpoint=endpoint, latency_ms=10, availability_percent=99, set_at=endpoint.created_at
        )
    many, html = queries()
    assert many == few and "other-3" in html
