"""A real Celery worker runs the analyses: the one queued when an alert opens, a drill-down into the
planted slice and an on-demand one through the API; other teams get 404, bad drill-down input a 400
naming the field."""

import pytest

from apps.monitoring.models import SliceAnalysis
from tests.conftest import wait_for
from tests.integration.monitoring_explain.conftest import bad_share_alert, is_planted

pytestmark = pytest.mark.django_db(transaction=True)


def finished(pk: int):
    analysis = SliceAnalysis.objects.select_related("job").get(pk=pk)
    return analysis if analysis.status in ("succeeded", "failed") else None


def day_analysis(alert) -> SliceAnalysis:
    return SliceAnalysis.objects.filter(alert=alert, parent=None, run__window="day").latest("created_at")


def test_worker_explains_new_alerts_and_drills_down_through_the_api(celery_worker, history, people, api_for):
    alert = bad_share_alert(history)
    # Queued when the alert opened (in an hourly run of the seed), run by the worker.
    automatic = SliceAnalysis.objects.get(alert=alert, trigger="alert")
    automatic = wait_for(lambda: finished(automatic.pk), timeout=180)
    assert automatic.status == "succeeded", automatic.error
    assert automatic.job.status == "succeeded" and automatic.trigger == "alert"
    assert automatic.metric["value"] == "bad" and automatic.tests_run > 0
    run = history.runs.get(pk=automatic.run_id)
    assert (automatic.window_start, automatic.window_end) == (run.window_start, run.window_end)

    api = api_for(people["dana"])
    parent = day_analysis(alert)
    assert is_planted(parent.explanation_list[0]["slice"])
    listed = api.get(f"/api/v1/alerts/{alert.pk}/explanations/")
    assert listed.status_code == 200 and parent.pk in [a["id"] for a in listed.json()]

    # Drill down into the planted slice: every explanation lies inside it.
    answer = api.post(
        f"/api/v1/alerts/{alert.pk}/explanations/", {"parent": parent.pk, "within": 0}, format="json"
    )
    assert answer.status_code == 202, answer.json()
    assert answer.json()["job"] and answer.json()["parent"] == parent.pk
    child = wait_for(lambda: finished(answer.json()["id"]), timeout=120)
    assert child.status == "succeeded", child.error
    assert child.within == parent.explanation_list[0]["slice"]
    assert child.metric == parent.metric and child.rows_current == parent.rows_current
    planted = {c["feature"]: c for c in parent.explanation_list[0]["slice"]["conditions"]}
    for e in child.explanation_list:
        conditions = {c["feature"]: c for c in e["slice"]["conditions"]}
        assert conditions["Home"] == planted["Home"]
        income = conditions["Income"]
        assert income.get("high") is not None and income["high"] <= planted["Income"]["high"]
    # Inside the slice the overall is the slice's own metric.
    assert child.overall["current"] == pytest.approx(parent.explanation_list[0]["metric_current"])
    one = api.get(f"/api/v1/alerts/{alert.pk}/explanations/{child.pk}/")
    assert one.status_code == 200 and one.json()["within"] == child.within

    # On demand: the alert's latest window again.
    fresh = api.post(f"/api/v1/alerts/{alert.pk}/explanations/", {}, format="json")
    assert fresh.status_code == 202 and fresh.json()["trigger"] == "manual"
    again = wait_for(lambda: finished(fresh.json()["id"]), timeout=120)
    assert again.status == "succeeded", again.error
    assert again.run_id == alert.latest_run_id and again.requested_by == people["dana"]


def test_other_teams_get_404_and_bad_input_is_named(history, people, api_for):
    alert = bad_share_alert(history)
    parent = day_analysis(alert)
    url = f"/api/v1/alerts/{alert.pk}/explanations/"
    mark = api_for(people["mark"])  # Customer Insights
    assert mark.get(url).status_code == 404
    assert mark.get(f"{url}{parent.pk}/").status_code == 404
    assert mark.post(url, {}, format="json").status_code == 404
    bea = api_for(people["bea"])  # the model's business owner reads, does not start work
    assert bea.get(url).status_code == 200
    assert bea.post(url, {}, format="json").status_code == 403

    dana = api_for(people["dana"])
    before = SliceAnalysis.objects.count()
    cases = [
        ({"parent": parent.pk, "within": 99}, "within", "99"),
        ({"within": 0}, "parent", "index"),
        ({"parent": parent.pk}, "within", "which explanation"),
        ({"parent": 10**6, "within": 0}, "parent", "not one of this alert"),
        ({"within": {"conditions": [{"feature": "Nope", "kind": "category", "value": "x"}]}}, "within", "No"),
        ({"within": {"conditions": [{"feature": "Home", "kind": "between"}]}}, "within", "range/category"),
        ({"within": "Home = rent"}, "within", "conditions"),
    ]
    for body, field, words in cases:
        answer = dana.post(url, body, format="json")
        assert answer.status_code == 400, (body, answer.content)
        assert field in answer.json() and words in str(answer.json()[field]), (body, answer.json())
    assert SliceAnalysis.objects.count() == before  # nothing half-created
    assert dana.get(f"{url}{10**6}/").status_code == 404
