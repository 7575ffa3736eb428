"""The KPI API: field errors by path, who may define and see what, series, impact and alert actions."""

from datetime import timedelta

import pytest

from apps.core.models import AuditEvent
from apps.kpis.models import KpiAlert, KpiDefinition
from apps.kpis.rollup import kpi_rollup
from apps.serving.ingest import ingest_batch
from tests.integration.kpis.conftest import APPROVAL, DAY1, DAY2, records, with_ids

pytestmark = pytest.mark.django_db


def body(world, **extra):
    return {
        "model": world["model"].pk,
        "name": "Approval rate",
        "endpoint": "credit-risk",
        "environment": "production",
        "kind": "share",
        "params": APPROVAL,
        "unit": "percent",
        "target": 0.7,
        "band_low": 0.6,
        "band_high": 0.8,
        **extra,
    }


def test_data_scientist_and_sponsor_define_kpis_audited(world, api_for):
    created = api_for(world["dana"]).post("/api/v1/kpis/", body(world), format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["owner"] == "bea"
    assert AuditEvent.objects.filter(action="kpi.created", object_id=created.json()["id"]).exists()

    mine = api_for(world["bea"]).post("/api/v1/kpis/", body(world, name="Bea's approval"), format="json")
    assert mine.status_code == 201 and mine.json()["owner"] == "bea"
    changed = api_for(world["bea"]).patch(
        f"/api/v1/kpis/{mine.json()['id']}/", {"band_low": 0.65}, format="json"
    )
    assert changed.status_code == 200 and changed.json()["band_low"] == 0.65


@pytest.mark.parametrize(
    ("extra", "field", "fragment"),
    [
        ({"params": {"condition": "inputs.FICO > 600"}}, "params.condition", "no input field 'FICO'"),
        ({"params": {"condition": "prediction = 'good'"}}, "params.condition", "cannot be read"),
        ({"params": {"value": "1"}}, "params", "value not used by a share KPI"),
        ({"segments": ["inputs.Hom == 'rent'"]}, "segments[0]", "'inputs.Hom'"),
        ({"endpoint": "nowhere"}, "endpoint", "no deployment on an endpoint named 'nowhere' in production"),
        ({"band_low": 0.9, "band_high": 0.8}, "band_low", "above its high end"),
        (
            {"kind": "mean", "params": {"by_outcome": {"good": "__import__('os')"}}},
            "params.by_outcome.good",
            "only the functions",
        ),
        ({"deployment_ids": [999999]}, "deployment_ids[0]", "999999: not a deployment of credit-default"),
        ({"deployment_ids": "all"}, "deployment_ids", "must be a list of deployment ids"),
    ],
)
def test_bad_definitions_are_400_naming_the_field(world, api_for, extra, field, fragment):
    response = api_for(world["dana"]).post("/api/v1/kpis/", body(world, **extra), format="json")
    assert response.status_code == 400
    errors = response.json()
    assert (
        fragment in " ".join(errors[field]) if isinstance(errors[field], list) else fragment in errors[field]
    )
    assert field in errors["detail"]
    assert not KpiDefinition.objects.exists()


def test_scoping(world, api_for):
    kpi = api_for(world["dana"]).post("/api/v1/kpis/", body(world), format="json").json()
    churn = KpiDefinition.objects.create(
        model=world["churn"],
        name="Churn share",
        endpoint="churn",
        kind="share",
        params=APPROVAL,
        owner=world["mark"],
    )
    bea, mark, ivan = (api_for(world[u]) for u in ("bea", "mark", "ivan"))
    assert [k["id"] for k in bea.get("/api/v1/kpis/").json()["results"]] == [kpi["id"]]
    assert bea.get(f"/api/v1/kpis/{churn.pk}/").status_code == 404
    assert mark.get(f"/api/v1/kpis/{kpi['id']}/").status_code == 404
    assert mark.get(f"/api/v1/kpis/{kpi['id']}/points/").status_code == 404
    refused = mark.post("/api/v1/kpis/", body(world, name="mine"), format="json")
    assert refused.status_code == 400 and "no model you can see" in refused.json()["model"][0]
    assert {k["id"] for k in ivan.get("/api/v1/kpis/").json()["results"]} == {kpi["id"], churn.pk}
    assert ivan.post("/api/v1/kpis/", body(world, name="it's"), format="json").status_code == 403
    assert (
        bea.post(
            "/api/v1/kpis/", body(world, model=world["churn"].pk, endpoint="churn"), format="json"
        ).status_code
        == 400
    )


def test_points_impact_and_alert_actions(world, api_for, scored):
    low, high = with_ids(scored.iloc[:400]), with_ids(scored.iloc[400:800])
    low.loc[low.index[:200], "prediction"] = "bad"  # DAY2's approval rate falls out of its band
    ingest_batch(records(high, world["v1"], DAY1) + records(low, world["v1"], DAY2))
    dana, bea = api_for(world["dana"]), api_for(world["bea"])
    kpi = dana.post("/api/v1/kpis/", body(world, band_low=0.5, band_high=1.0), format="json").json()
    kpi_rollup(kpi=KpiDefinition.objects.get(pk=kpi["id"]), settle=0)

    series = bea.get(f"/api/v1/kpis/{kpi['id']}/points/").json()
    assert [p["start"][:10] for p in series] == ["2025-03-03", "2025-03-04"]
    assert series[1]["status"] == "out_of_band" and series[1]["display"].endswith("%")

    query = {
        "before_start": DAY1.isoformat(),
        "before_end": (DAY1 + timedelta(days=1)).isoformat(),
        "after_start": DAY2.isoformat(),
        "after_end": (DAY2 + timedelta(days=1)).isoformat(),
        "segment": "inputs.Home",
    }
    impact = bea.get(f"/api/v1/kpis/{kpi['id']}/impact/", query)
    assert impact.status_code == 200, impact.json()
    assert impact.json()["high"] < 0 and impact.json()["segments"]
    bad = bea.get(f"/api/v1/kpis/{kpi['id']}/impact/", {**query, "segment": "inputs.Homes"})
    assert bad.status_code == 400 and "'inputs.Homes'" in bad.json()["segment"][0]
    neither = bea.get(f"/api/v1/kpis/{kpi['id']}/impact/")
    assert neither.status_code == 400 and "change" in neither.json()

    alerts = bea.get("/api/v1/kpi-alerts/", {"state": "open"}).json()["results"]
    assert len(alerts) == 1 and alerts[0]["kpi"] == kpi["id"]
    url = f"/api/v1/kpi-alerts/{alerts[0]['id']}/actions/"
    assert bea.post(url, {"action": "resolve"}, format="json").json()["reason"]
    assert bea.post(url, {"action": "acknowledge"}, format="json").json()["state"] == "acknowledged"
    assert api_for(world["mark"]).post(url, {"action": "acknowledge"}, format="json").status_code == 404
    done = dana.post(
        url, {"action": "resolve", "reason": "the new pricing rule, agreed with bea"}, format="json"
    )
    assert done.json()["state"] == "resolved" and [a["actor"] for a in done.json()["actions"]] == [
        "bea",
        "dana",
    ]
    assert KpiAlert.objects.get().resolved_at is not None
