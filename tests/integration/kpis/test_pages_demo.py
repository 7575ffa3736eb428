"""The demo's business story on real data (apps/demo/kpis_demo.py after the monitoring backfill,
the code ``make demo`` runs): bea's approval-rate tile is out of band on the planted day, its page
marks the canary and the drift alert, the impact of the canary has an interval equal to a hand
computation from the prediction log, and the "what changed" panel names the flagged features."""

import io
import math
import re
from datetime import timedelta

import joblib
import pytest
from django.http import HttpRequest
from django.test import Client
from django.urls import reverse
from scipy.stats import norm
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from apps.accounts.roles import Role
from apps.demo.kpis_demo import CANARY_PREFIX, demo_end, seed_kpis
from apps.demo.monitoring_demo import seed_monitoring
from apps.demo.training import CREDIT_CATEGORICAL, CREDIT_NUMERIC
from apps.kpis.models import KpiAlert, KpiDefinition
from apps.packaging.services import package_build_enqueue, package_build_run
from apps.registry.services import Registration, version_register
from apps.serving.models import Prediction
from tests.integration.monitoring.conftest import register_and_deploy

pytestmark = pytest.mark.django_db
PASSWORD = "kpi-demo-pass-1"


def _cautious_model(frame) -> bytes:
    """A second credit model (stronger regularisation, fewer rows): the canary's version."""
    sample = frame.sample(500, random_state=9)
    model = Pipeline(
        [
            (
                "features",
                ColumnTransformer(
                    [
                        ("num", make_pipeline(SimpleImputer(), StandardScaler()), CREDIT_NUMERIC),
                        (
                            "cat",
                            make_pipeline(
                                SimpleImputer(strategy="most_frequent"),
                                OneHotEncoder(handle_unknown="ignore"),
                            ),
                            CREDIT_CATEGORICAL,
                        ),
                    ]
                ),
            ),
            ("classify", LogisticRegression(C=0.02, class_weight="balanced", max_iter=500)),
        ]
    ).fit(sample[CREDIT_NUMERIC + CREDIT_CATEGORICAL], sample["Status"])
    out = io.BytesIO()
    joblib.dump(model, out)
    return out.getvalue()


@pytest.fixture
def demo(make_user, credit_model_bytes, credit_frame):
    people = {
        "dana": make_user("dana", password=PASSWORD),
        "mark": make_user("mark", team="Customer Insights", password=PASSWORD),
        "bea": make_user("bea", Role.BUSINESS_OWNER, team=None, password=PASSWORD),
        "ivan": make_user("ivan", Role.IT_OPERATOR, team=None, password=PASSWORD),
    }
    reference = credit_frame.sample(1500, random_state=11).reset_index(drop=True)
    deployment = register_and_deploy(people["dana"], model_bytes=credit_model_bytes, reference=reference)
    model = deployment.version.model
    model.business_owner = people["bea"]
    model.save(update_fields=["business_owner"])
    v2 = version_register(
        user=people["dana"],
        reg=Registration(
            model_name=model.name,
            task_type="binary_classification",
            artifact=io.BytesIO(_cautious_model(credit_frame)),
            artifact_filename="model.joblib",
            reference=io.BytesIO(reference.to_csv(index=False).encode()),
            reference_filename="train.csv",
            target="Status",
        ),
    )
    build = package_build_run(build=package_build_enqueue(version=v2), step=lambda p, m: None)
    assert build.status == "succeeded", build.error
    end = demo_end()
    seed_monitoring(people, deployment=deployment, reference_wait=0, now=end)
    kpis = seed_kpis(people, deployment=deployment, canary_version=v2, now=end)
    return {"people": people, "deployment": deployment, "kpis": kpis, "end": end, "v2": v2}


def logged_in(username) -> Client:
    client = Client()
    assert client.login(request=HttpRequest(), username=username, password=PASSWORD)
    return client


def _newcombe(hits1, n1, hits2, n2):
    """p2 − p1 with Newcombe's hybrid score interval, written out from the two Wilson intervals."""
    z = norm.ppf(0.975)

    def wilson(h, n):
        p = h / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        return p, centre - half, centre + half

    p1, l1, u1 = wilson(hits1, n1)
    p2, l2, u2 = wilson(hits2, n2)
    d = p2 - p1
    return d, d - math.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2), d + math.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2)


def test_bea_sees_the_approval_rate_leave_its_band_with_the_canary_and_drift_alert_marked(demo):
    approval, defaults, profit = demo["kpis"]
    end = demo["end"]
    yesterday = approval.points.get(start=end - timedelta(days=1))
    earlier = list(approval.points.filter(end__lte=end - timedelta(days=1), n__gte=100))
    assert yesterday.status == "out_of_band" and yesterday.value < approval.band_low
    assert earlier and all(p.status == "ok" for p in earlier)
    assert KpiAlert.objects.filter(kpi=approval, state="open").count() == 1
    assert defaults.points.filter(status="ok").exists() and profit.points.filter(status="ok").exists()

    bea = logged_in("bea")
    home = bea.get(reverse("dashboards:home")).content.decode()
    tile = re.search(r'data-kpi="Approval rate" data-status="(\w+)"', home)
    assert tile and tile.group(1) == "out_of_band"
    # The tile carries the open KPI alert, linked to it.
    alert = KpiAlert.objects.get(kpi=approval, state="open")
    assert f'data-testid="kpi-alert" title="{alert.summary}">open alert #{alert.pk}</a>' in home

    page = bea.get(reverse("kpis:detail", args=[approval.pk]), {"period": "30d"}).content.decode()
    assert 'data-testid="kpi-chart"' in page
    marks = re.findall(r'<li data-kind="(\w+)">', page)
    assert {"canary", "retired", "alert", "deployment"} <= set(marks)
    assert re.search(r"drift alert #\d+: Income", page)
    # The default change is the canary (v1 went live before the backfilled week: nothing before it).
    canary = demo["v2"].deployments.get(role="canary")
    arm = Prediction.objects.filter(ts__gte=canary.live_at, ts__lt=canary.retired_at, environment="staging")
    primary_rows = list(arm.filter(deployment_id=demo["deployment"].pk).values_list("prediction", flat=True))
    canary_rows = list(arm.filter(deployment_id=canary.pk).values_list("prediction", flat=True))
    canary_ids = arm.filter(deployment_id=canary.pk).values_list("request_id", flat=True)
    assert canary_rows and all(r.startswith(CANARY_PREFIX) for r in canary_ids)
    d, low, high = _newcombe(
        sum(p == "good" for p in primary_rows),
        len(primary_rows),
        sum(p == "good" for p in canary_rows),
        len(canary_rows),
    )
    shown = re.search(
        r'data-testid="impact-difference">([^<]+)<.*?data-testid="impact-interval">\(([^)]+)\)', page, re.S
    )
    assert shown, "no impact on the page"

    def pts(x):
        return f"{'+' if x > 0 else '−'}{100 * abs(x):.1f} pts"

    assert shown.group(1) == pts(d)
    assert shown.group(2) == f"{pts(low)} to {pts(high)}"
    changed = re.search(r'data-testid="what-changed">\s*<p>([^<]+)</p>', page).group(1)
    assert "fell" in changed and "Income" in changed and "Home" in changed and "alert #" in changed

    # Another team's data scientist: no tile, and the KPI page is a 404.
    mark = logged_in("mark")
    assert "Approval rate" not in mark.get(reverse("kpis:list")).content.decode()
    assert mark.get(reverse("kpis:detail", args=[approval.pk])).status_code == 404
    assert KpiDefinition.objects.filter(model=demo["deployment"].version.model).count() == 3
