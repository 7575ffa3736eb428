"""Issue 12, point 2: a KPI reads only its own model's predictions. Team C (mark, Customer
Insights, the churn model) may not define a KPI over team A's ``credit-risk`` (the refusal reads as
for an endpoint that does not exist), and a cross-team definition stored behind the service's back
rolls up, compares and shows nothing of A's predictions or outcomes."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from apps.kpis.impact import kpi_impact
from apps.kpis.models import KpiDefinition, KpiPoint
from apps.kpis.rollup import kpi_rollup
from apps.serving.ingest import ingest_batch
from apps.serving.models import Outcome
from apps.serving.outcomes import outcomes_submit
from tests.integration.kpis.conftest import (
    APPROVAL,
    DAY1,
    DAY2,
    DEFAULT_AMONG_APPROVED,
    outcome_records,
    records,
    with_ids,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def a_logged(world, scored):
    """Team A's predictions on credit-risk (DAY1 and DAY2, v1) with their outcomes."""
    day1, day2 = with_ids(scored.iloc[:300]), with_ids(scored.iloc[300:600])
    ingest_batch(records(day1, world["v1"], DAY1) + records(day2, world["v1"], DAY2))
    outcomes_submit(user=world["dana"], records=outcome_records(day1))
    assert Outcome.objects.count() == 300
    return day1, day2


def body(world, **extra):
    return {
        "model": world["churn"].pk,
        "name": "Their approval rate",
        "endpoint": "credit-risk",
        "environment": "production",
        "kind": "share",
        "params": APPROVAL,
        **extra,
    }


def test_a_kpi_on_another_teams_endpoint_is_refused_like_a_missing_one(world, api_for, a_logged):
    mark = api_for(world["mark"])
    theirs = mark.post("/api/v1/kpis/", body(world, deployment_ids=[]), format="json")
    nowhere = mark.post("/api/v1/kpis/", body(world, endpoint="nowhere"), format="json")
    assert theirs.status_code == nowhere.status_code == 400
    assert theirs.json()["endpoint"] == [nowhere.json()["endpoint"][0].replace("'nowhere'", "'credit-risk'")]

    # On its own endpoint, naming A's deployment reads as naming one that does not exist.
    ids = mark.post(
        "/api/v1/kpis/",
        body(world, endpoint="churn", deployment_ids=[world["v2"].pk, 999999, world["churn_live"].pk]),
        format="json",
    )
    assert ids.status_code == 400
    errors = ids.json()
    assert errors["deployment_ids[0]"] == [
        errors["deployment_ids[1]"][0].replace("999999", str(world["v2"].pk))
    ]
    assert "deployment_ids[2]" not in errors and "endpoint" not in errors

    client = Client()
    client.force_login(world["mark"])
    form = {
        "name": "Their approval rate",
        "model": world["churn"].pk,
        "endpoint": "credit-risk",
        "environment": "production",
        "kind": "share",
        "condition": 'prediction == "good"',
        "window": "day",
        "unit": "percent",
        "decimals": 1,
    }
    page = client.post(reverse("kpis:create"), form)
    assert page.status_code == 200
    shown = re.search(r'data-testid="error-endpoint">(.*?)</ul>', page.content.decode(), re.S).group(1)
    assert "churn has no deployment on an endpoint named &#x27;credit-risk&#x27;" in shown
    assert not KpiDefinition.objects.exists()


def test_a_stored_cross_team_definition_rolls_up_nothing_of_theirs(world, api_for, a_logged):
    stored = [
        KpiDefinition.objects.create(
            model=world["churn"],
            name=name,
            endpoint="credit-risk",
            kind=kind,
            params=params,
            deployment_ids=ids,
            owner=world["mark"],
        )
        for name, kind, params, ids in [
            ("Their approval rate", "share", APPROVAL, []),
            ("Their defaults", "rate_among", DEFAULT_AMONG_APPROVED, [world["v1"].pk, world["v2"].pk]),
        ]
    ]
    for kpi in stored:
        assert kpi_rollup(kpi=kpi, settle=0) == []
        kpi.refresh_from_db()
        assert kpi.unmatched_outcomes == 0
        assert (
            kpi.problem
            == "nothing to count: churn has no deployment on an endpoint named 'credit-risk' in production"
        )
        impact = kpi_impact(
            kpi=kpi,
            before=(DAY1, DAY1 + timedelta(days=1)),
            after=(DAY2, DAY2 + timedelta(days=1)),
            segment="inputs.Home",
        )
        assert impact["before"]["rows"] == impact["after"]["rows"] == 0
        assert impact["segments"] == []  # not one segment value of theirs
    assert not KpiPoint.objects.filter(kpi__in=stored).exists()

    mark = api_for(world["mark"])
    assert mark.get(f"/api/v1/kpis/{stored[0].pk}/points/").json() == []
    query = {
        "before_start": DAY1.isoformat(),
        "before_end": (DAY1 + timedelta(days=1)).isoformat(),
        "after_start": DAY2.isoformat(),
        "after_end": (DAY2 + timedelta(days=1)).isoformat(),
    }
    answer = mark.get(f"/api/v1/kpis/{stored[1].pk}/impact/", query).json()
    assert answer["before"]["rows"] == answer["after"]["rows"] == 0

    # The same definition under A's own model reads A's rows: the data is there.
    own = KpiDefinition.objects.create(
        model=world["model"], name="Approval rate", endpoint="credit-risk", kind="share", params=APPROVAL,
        owner=world["bea"],
    )  # fmt: skip
    assert sorted(p.n for p in kpi_rollup(kpi=own, settle=0)) == [300, 300]


def test_the_migration_forgets_points_a_cross_team_definition_computed_before(world):
    """Points computed before the fix from another team's rows are dropped (and recomputed from
    what the KPI may read); a KPI over its own deployments keeps its history."""
    from importlib import import_module

    from django.apps import apps

    forget = import_module("apps.kpis.migrations.0002_forget_points_read_across_teams")
    common = {"kind": "share", "params": APPROVAL, "owner": world["bea"]}
    theirs = KpiDefinition.objects.create(
        model=world["churn"], name="Theirs", endpoint="credit-risk", prediction_watermark=99, **common
    )
    chosen = KpiDefinition.objects.create(
        model=world["model"],
        name="Chosen",
        endpoint="credit-risk",
        deployment_ids=[world["churn_live"].pk],
        **common,
    )
    own = KpiDefinition.objects.create(
        model=world["model"], name="Own", endpoint="credit-risk", deployment_ids=[world["v1"].pk], **common
    )
    for kpi in (theirs, chosen, own):
        KpiPoint.objects.create(kpi=kpi, start=DAY1, end=DAY2, value=0.7, n=300, computed_at=DAY2)
    forget.forget_points_read_across_teams(apps, None)
    assert set(KpiPoint.objects.values_list("kpi__name", flat=True)) == {"Own"}
    theirs.refresh_from_db()
    assert theirs.prediction_watermark == 0 and theirs.last_rollup_at is None
