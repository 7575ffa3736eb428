"""IT opens the SLA page in a real browser: charts drawn by our plotly.js, the deployment marked,
the SLO form refusing a bad target and saving a good one."""

import pytest
from django.contrib.auth import get_user_model

from apps.accounts.roles import Role
from apps.deployments.services import deployment_request, deployment_rollout_run
from tests.integration.sla.conftest import store_minutes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "browser-pass-1"


def test_it_reads_the_charts_sees_the_deployment_and_sets_an_slo(packaged_version, make_user, login):
    version = packaged_version()
    dana = get_user_model().objects.get(username="dana")
    make_user("ivan", Role.IT_OPERATOR, team=None, password=PASSWORD)
    deployment = deployment_request(user=dana, version=version, endpoint="credit-risk", environment="staging")
    deployment_rollout_run(deployment=deployment, step=lambda percent, message: None)
    store_minutes(deployment.endpoint, minutes=40)

    page = login("ivan", PASSWORD)
    assert page.locator('[data-testid="sla-table"]').inner_text().count("credit-risk") == 1  # IT home
    page.click("nav >> text=Service levels")
    page.select_option("#sla-environment", "staging")
    page.select_option("#sla-period", "6h")
    page.click("form[data-testid=sla-choose] button")
    for chart in ("latency", "throughput", "errors", "budget"):
        page.wait_for_selector(f"#chart-{chart} .main-svg")
    latency = page.locator("#chart-latency").inner_text()
    assert "v1 live" in latency and "SLO p99" in latency
    assert "v1 live" in page.locator("#chart-throughput").inner_text()
    assert page.locator('[data-testid="sla-no-workers"]').is_visible()  # no worker reported here

    page.fill("#id_latency_ms", "-3")
    page.fill("#id_availability_percent", "99.5")
    page.click("text=Save SLO")
    assert "above 0 ms" in page.locator('[data-testid="error-latency_ms"]').inner_text()
    page.fill("#id_latency_ms", "30")
    page.click("text=Save SLO")
    page.wait_for_selector("text=SLO set by ivan")
    assert "SLO ≤ 30 ms" in page.locator('[data-testid="sla-summary"]').inner_text()
