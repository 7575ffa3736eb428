"""The KPI pages on the real database: tiles with status, problems and unmatched outcomes; the KPI
page's annotations (deployment, monitoring alert, people's decisions), impact of a version change
with a segment breakdown, the what-changed panel; the form's field errors; KPI alert actions; and
who sees what (a business owner only the models they sponsor, another team a 404)."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.http import HttpRequest
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.accounts.roles import Role
from apps.kpis.models import KpiAlert, KpiAlertAction, KpiDefinition
from apps.kpis.rollup import kpi_rollup
from apps.kpis.services import kpi_create
from apps.monitoring.models import Alert, AlertAction, CheckRun, Finding, Monitor, MonitorTemplate
from apps.serving.ingest import ingest_batch
from apps.serving.models import Outcome
from apps.serving.outcomes import outcomes_submit
from tests.integration.kpis.conftest import (
    APPROVAL,
    DAY1,
    DAY2,
    DAY3,
    DEFAULT_AMONG_APPROVED,
    outcome_records,
    records,
    with_ids,
)

pytestmark = pytest.mark.django_db
PASSWORD = "pw-for-tests"  # tests/conftest.py make_user's default


def logged_in(user) -> Client:
    client = Client()
    assert client.login(request=HttpRequest(), username=user.username, password=PASSWORD)
    return client


def make_kpi(world, name, kind, params, user="bea", **extra):
    return kpi_create(
        user=world[user], model=world["model"], name=name, endpoint="credit-risk", environment="production",
        kind=kind, params=params, unit="percent", **extra,
    )  # fmt: skip


@pytest.fixture
def three_days(world, scored):
    """500 applications a day: DAY1 and DAY2 under v1, DAY3 under v2 (which approves everyone whose
    score the tests' model calls "bad" among renters: a visible drop); outcomes for DAY1."""
    day1, day2 = with_ids(scored.iloc[:500]), with_ids(scored.iloc[500:1000])
    day3 = with_ids(scored.iloc[1000:1500]).copy()
    day3.loc[day3["Home"] == "rent", "prediction"] = "bad"  # v2 declines renters
    ingest_batch(
        records(day1, world["v1"], DAY1) + records(day2, world["v1"], DAY2) + records(day3, world["v2"], DAY3)
    )
    outcomes_submit(user=world["dana"], records=outcome_records(day1))
    return day1, day2, day3


def _drift_alert(world, start, end, feature="Income") -> Alert:
    """A flagged drift finding on v2's monitor in ``[start, end)`` and its open alert."""
    monitor = Monitor.objects.create(
        deployment=world["v2"], template=MonitorTemplate.objects.first(), config={}
    )
    run = CheckRun.objects.create(
        monitor=monitor, trigger="schedule", window="day", window_start=start, window_end=end,
        baseline="reference", status="succeeded",
    )  # fmt: skip
    Finding.objects.create(
        run=run,
        feature=feature,
        check_name="drift",
        test="psi",
        statistic=0.4,
        p_value=1e-6,
        adjusted_p=1e-5,
        effect_size=0.4,
        effect_name="psi",
        floor=0.1,
        n_reference=1000,
        n_current=500,
        flagged=True,
        severity="high",
    )
    return Alert.objects.create(
        monitor=monitor,
        check_name="drift",
        feature=feature,
        severity="high",
        first_seen=end + timedelta(hours=1),
        last_seen=end + timedelta(hours=1),
        summary=f"{feature}: drift",
        latest_run=run,
    )


def test_kpi_page_marks_the_deployment_the_alert_and_decisions_and_explains_the_drop(world, three_days):
    day1, day2, day3 = three_days
    approval = make_kpi(world, "Approval rate", "share", APPROVAL, band_low=0.5, band_high=0.95, target=0.7)
    kpi_rollup(kpi=approval, settle=0)
    approval.refresh_from_db()
    alert = _drift_alert(world, DAY3, DAY3 + timedelta(days=1), "Home")
    AlertAction.objects.create(
        alert=alert, action="acknowledge", actor=world["dana"], reason="looking at renters"
    )
    client = logged_in(world["bea"])
    page = client.get(reverse("kpis:detail", args=[approval.pk]), {"period": "all"}).content.decode()
    marks = dict(
        re.findall(
            r'<li data-kind="(\w+)">[^<]*<span class="badge">\w+</span> <a href="[^"]*">([^<]+)</a>', page
        )
    )
    assert marks["deployment"] == "v2 live"
    assert marks["alert"] == f"drift alert #{alert.pk}: Home (high)"
    assert marks["decision"] == f"dana acknowledged alert #{alert.pk}: looking at renters"
    # The figure carries one hover marker per annotation.
    assert page.count("triangle-down") == 1 and "v2 live" in page
    # What changed: the DAY3 drop beside the Home drift flagged in the same window, linked.
    changed = re.search(r'data-testid="what-changed">\s*<p>([^<]+)</p>', page).group(1)
    good = [(d["prediction"] == "good").mean() for d in (day2, day3)]
    assert f"fell from {100 * good[0]:.1f}% to {100 * good[1]:.1f}% on Wed 5 Mar 2025" in changed
    assert f"drift in Home was flagged (alert #{alert.pk})" in changed and "v2 live" in changed
    assert reverse("monitoring:alert-detail", args=[alert.pk]) in page
    # Impact of v2 (the latest change) by Home: before = DAY1+DAY2, after = DAY3.
    page = client.get(
        reverse("kpis:detail", args=[approval.pk]),
        {"period": "all", "change": world["v2"].pk, "segment": "inputs.Home"},
    ).content.decode()
    assert 'data-testid="impact-table"' in page and 'data-testid="impact-chart"' in page
    before = (day1["prediction"] == "good").tolist() + (day2["prediction"] == "good").tolist()
    diff = (day3["prediction"] == "good").mean() - sum(before) / len(before)
    shown = re.search(r'data-testid="impact-difference">([^<]+)<', page).group(1)
    assert shown == f"{'+' if diff > 0 else '−'}{100 * abs(diff):.1f} pts"
    rows = re.findall(r'data-testid="impact-segment"><td>inputs.Home = (\w+)</td>', page)
    assert "rent" in rows and "owner" in rows


def test_tiles_show_status_problems_and_unmatched_outcomes(world, three_days):
    approval = make_kpi(world, "Approval rate", "share", APPROVAL, band_low=0.9, band_high=1.0)
    nobody = make_kpi(world, "Castle owners", "share", APPROVAL, segments=['inputs.Home == "castle"'])
    outcomes_submit(
        user=world["dana"], records=[{"endpoint": "credit-risk", "request_id": "ghost-1", "value": "bad"}]
    )
    Outcome.objects.create(
        endpoint="credit-risk", environment="production", request_id="ghost-2", value="bad"
    )
    defaults = make_kpi(world, "Defaults among approved", "rate_among", DEFAULT_AMONG_APPROVED)
    for kpi in (approval, nobody, defaults):
        kpi_rollup(kpi=kpi, settle=0)
    client = logged_in(world["bea"])
    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("kpis:list")).content.decode()
    assert len(queries) < 15  # tiles read points in one query, whatever the number of KPIs
    assert 'data-kpi="Approval rate" data-status="out_of_band"' in page
    assert 'data-kpi="Castle owners" data-status="insufficient"' in page
    assert "no predictions in this window match the segment filters" in page
    assert "1 outcome matched no prediction" in page  # ghost-2: stored; ghost-1 was refused at ingestion
    home = client.get(reverse("dashboards:home")).content.decode()
    assert 'data-testid="home-kpis"' in home and 'data-kpi="Approval rate"' in home


def test_the_form_shows_the_services_field_errors(world):
    client = logged_in(world["bea"])
    data = {
        "name": "Big earners",
        "model": world["model"].pk,
        "endpoint": "credit-risk",
        "environment": "production",
        "kind": "share",
        "condition": "inputs.Salary > 3",
        "segments": 'inputs.Home == "rent"\nscore >',
        "window": "day",
        "unit": "percent",
        "decimals": 1,
        "band_low": 0.9,
        "band_high": 0.1,
    }
    response = client.post(reverse("kpis:create"), data)
    assert response.status_code == 200
    page = response.content.decode()
    assert "segments[1]" in re.search(r'data-testid="error-segments">(.*?)</ul>', page, re.S).group(1)
    assert "above its high end" in re.search(r'data-testid="error-band_low">(.*?)</ul>', page, re.S).group(1)
    page = client.post(reverse("kpis:create"), {**data, "segments": ""}).content.decode()
    condition = re.search(r'data-testid="error-condition">(.*?)</ul>', page, re.S).group(1)
    assert "no input field &#x27;Salary&#x27;" in condition
    assert not KpiDefinition.objects.exists()
    data.update(condition='prediction == "good"', segments="", band_low=0.5, band_high=0.95)
    response = client.post(reverse("kpis:create"), data)
    kpi = KpiDefinition.objects.get(name="Big earners")
    assert response.status_code == 302 and response["Location"] == reverse("kpis:detail", args=[kpi.pk])
    assert kpi.owner == world["bea"] and kpi.params == {"condition": 'prediction == "good"'}
    response = client.post(reverse("kpis:edit", args=[kpi.pk]), {**data, "kind": "rate_among", "among": ""})
    among = re.search(r'data-testid="error-among">(.*?)</ul>', response.content.decode(), re.S)
    assert among and "params.among" in among.group(1)


def test_kpi_alert_actions_are_recorded_from_the_page(world, three_days):
    approval = make_kpi(world, "Approval rate", "share", APPROVAL, band_low=0.95)
    kpi_rollup(kpi=approval, settle=0)
    alert = KpiAlert.objects.get(kpi=approval)
    assert (
        logged_in(world["mark"])
        .post(reverse("kpis:alert-act", args=[alert.pk]), {"action": "acknowledge"})
        .status_code
        == 404
    )
    bea = logged_in(world["bea"])
    page = bea.get(reverse("kpis:alert-list")).content.decode()
    assert f'id="kpi-alert-{alert.pk}"' in page and 'data-testid="kpi-alert-form"' in page
    bea.post(reverse("kpis:alert-act", args=[alert.pk]), {"action": "resolve", "reason": ""})
    alert.refresh_from_db()
    assert alert.state == "open"  # a resolve needs a reason: shown, nothing changed
    bea.post(
        reverse("kpis:alert-act", args=[alert.pk]), {"action": "resolve", "reason": "band was too tight"}
    )
    alert.refresh_from_db()
    assert alert.state == "resolved"
    assert KpiAlertAction.objects.get(alert=alert).reason == "band was too tight"
    page = bea.get(reverse("kpis:detail", args=[approval.pk]), {"period": "all"}).content.decode()
    assert f"bea resolved KPI alert #{alert.pk}: band was too tight" in page


def test_business_owners_see_only_what_they_sponsor(world, make_user):
    mine = make_kpi(world, "Approval rate", "share", APPROVAL)
    churn_kpi = kpi_create(
        user=world["mark"], model=world["churn"], name="Churn share", endpoint="churn",
        environment="production", kind="share", params={"condition": 'prediction == "good"'},
    )  # fmt: skip
    bea, mark, ivan = logged_in(world["bea"]), logged_in(world["mark"]), logged_in(world["ivan"])
    assert bea.get(reverse("kpis:detail", args=[churn_kpi.pk])).status_code == 404
    assert bea.get(reverse("kpis:edit", args=[churn_kpi.pk])).status_code == 404
    assert "Churn share" not in bea.get(reverse("kpis:list")).content.decode()
    assert mark.get(reverse("kpis:detail", args=[mine.pk])).status_code == 404
    listing = ivan.get(reverse("kpis:list")).content.decode()
    assert "Churn share" in listing and "Approval rate" in listing
    assert ivan.get(reverse("kpis:edit", args=[mine.pk])).status_code == 403  # IT reads, owners define
    # Another business owner sponsoring nothing sees no KPI and may define none.
    other = logged_in(make_user("olga", Role.BUSINESS_OWNER, team=None))
    assert "Approval rate" not in other.get(reverse("kpis:list")).content.decode()
    assert other.get(reverse("kpis:create")).status_code == 403
