"""Endpoint names are unique per environment. A team asking for a name another team holds is told
the name is not available, never whose it is (issue 12: messages never confirm another team's
object exists)."""

import pytest

from apps.deployments.models import Deployment
from tests.integration.serving_log.conftest import deployed

pytestmark = pytest.mark.django_db


def test_a_name_taken_by_another_team_is_not_available_and_whose_it_is_stays_unsaid(make_user, api_for):
    dana, mark = make_user("dana"), make_user("mark", team="Customer Insights")
    deployed(dana.teams.get(), "loans", environment="staging")
    churn = deployed(mark.teams.get(), "churn", environment="staging")  # a packaged version of mark's
    asked = api_for(mark).post(
        "/api/v1/deployments/",
        {"version": churn.version_id, "endpoint": "loans", "environment": "staging"},
        format="json",
    )
    assert asked.status_code == 400
    assert asked.json()["endpoint"] == [
        "the endpoint name 'loans' is not available in staging; choose another"
    ]
    assert "team" not in asked.json()["detail"]
    assert Deployment.objects.filter(endpoint__name="loans").count() == 1
