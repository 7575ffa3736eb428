"""People decide: actions on alerts through the API, recorded with who and why; the access rules;
monitor config edits with field-level errors."""

import pytest

from apps.accounts.roles import Role
from apps.core.models import AuditEvent
from apps.deployments.models import Deployment
from apps.monitoring.models import AlertAction, CheckRun, Monitor, NotificationDelivery
from tests.integration.monitoring.conftest import FEATURES, HOUR1, register_and_deploy, run

pytestmark = pytest.mark.django_db


def alert_id(api, feature, check="drift"):
    body = api.get("/api/v1/alerts/", {"feature": feature, "check": check}).json()
    assert body["count"] == 1, body
    return body["results"][0]["id"]


def act(api, alert, action, reason=None):
    data = {"action": action} | ({"reason": reason} if reason is not None else {})
    return api.post(f"/api/v1/alerts/{alert}/actions/", data, format="json")


def test_people_decide_and_each_decision_is_recorded(request, api_for, dana, credit_model_bytes, split):
    older = register_and_deploy(dana, model_bytes=credit_model_bytes, reference=split[0])
    monitored = request.getfixturevalue("monitored")  # v2 replaces v1 on credit-risk
    assert Deployment.objects.get(pk=older.pk).status == Deployment.Status.RETIRED
    run(monitored, HOUR1)
    api = api_for(dana)

    income = alert_id(api, "Income")
    detail = api.get(f"/api/v1/alerts/{income}/").json()
    assert detail["state"] == "open" and detail["severity"] in ("medium", "high")
    assert detail["evidence"]["test"] and detail["evidence"]["n_current"] > 1000
    missing = act(api, income, "resolve")
    assert missing.status_code == 400 and "reason" in missing.json()
    assert act(api, income, "shrug", "because").json()["action"]
    acknowledged = act(api, income, "acknowledge")
    assert acknowledged.status_code == 200 and acknowledged.json()["state"] == "acknowledged"

    home = alert_id(api, "Home")
    accepted = act(api, home, "rebaseline", "new branch opened near the university: more students")
    assert accepted.status_code == 200 and accepted.json()["state"] == "resolved"
    monitor = Monitor.objects.get(pk=monitored.pk)
    assert monitor.baseline_profile is not None and monitor.baseline_set_by == dana
    rerun = run(monitor, HOUR1)
    assert rerun.baseline == "rebaselined"
    assert not rerun.findings.filter(flagged=True, check_name="drift", feature__in=FEATURES).exists()

    rolled = act(api, income, "rollback", "income drift after the v2 release")
    assert rolled.status_code == 200, rolled.json()
    assert rolled.json()["state"] == "resolved"
    live = Deployment.objects.get(endpoint=older.endpoint, status="live", role="primary")
    assert live.version_id == older.version_id

    recorded = list(AlertAction.objects.order_by("id").values_list("action", "actor__username", "reason"))
    assert recorded == [
        ("acknowledge", "dana", ""),
        ("rebaseline", "dana", "new branch opened near the university: more students"),
        ("rollback", "dana", "income drift after the v2 release"),
    ]
    audited = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"alert.acknowledge", "alert.rebaseline", "alert.rollback", "deployment.rolled_back"} <= audited
    assert act(api, income, "resolve", "done already").status_code == 400  # resolved alerts take none


def test_retraining_request_notifies_the_team_and_retire_stops_the_deployment(monitored, api_for, dana):
    run(monitored, HOUR1)
    api = api_for(dana)
    income = alert_id(api, "Income")
    asked = act(api, income, "request_retraining", "incomes have moved; retrain on last quarter")
    assert asked.status_code == 200 and asked.json()["state"] == "acknowledged"
    sent = NotificationDelivery.objects.filter(event="retraining.requested")
    assert {d.kind for d in sent} == {"email", "webhook"}
    assert sent.first().payload["requested_by"] == "dana"

    retired = act(api, alert_id(api, "Home"), "retire", "the model is no longer fit for this market")
    assert retired.status_code == 200, retired.json()
    deployment = Deployment.objects.get(pk=monitored.deployment_id)
    assert deployment.status == Deployment.Status.RETIRED and deployment.retired_at is not None
    event = AuditEvent.objects.get(action="deployment.retired")
    assert event.actor == dana and event.details["reason"] == "the model is no longer fit for this market"


def test_who_sees_and_who_acts(monitored, api_for, make_user, dana):
    run(monitored, HOUR1)
    owner = api_for(dana)
    income = alert_id(owner, "Income")
    run_id = CheckRun.objects.latest("id").pk

    mark = api_for(make_user("mark", team="Customer Insights"))
    assert mark.get("/api/v1/monitors/").json()["count"] == 0
    assert mark.get("/api/v1/alerts/").json()["count"] == 0
    assert mark.get(f"/api/v1/alerts/{income}/").status_code == 404
    assert mark.get(f"/api/v1/check-runs/{run_id}/").status_code == 404
    assert mark.get("/api/v1/findings/", {"run": run_id}).json()["count"] == 0
    assert act(mark, income, "acknowledge").status_code == 404
    assert mark.post("/api/v1/check-runs/", {"monitor": monitored.pk}, format="json").status_code == 404
    assert (
        mark.patch(f"/api/v1/monitors/{monitored.pk}/", {"enabled": False}, format="json").status_code == 404
    )

    bea_user = make_user("bea", Role.BUSINESS_OWNER, team=None)
    model = monitored.deployment.version.model
    model.business_owner = bea_user
    model.save(update_fields=["business_owner"])
    bea = api_for(bea_user)
    assert bea.get(f"/api/v1/alerts/{income}/").status_code == 200
    assert act(bea, income, "acknowledge").status_code == 403
    assert (
        bea.patch(f"/api/v1/monitors/{monitored.pk}/", {"enabled": False}, format="json").status_code == 403
    )

    ivan = api_for(make_user("ivan", Role.IT_OPERATOR, team=None))
    assert ivan.get("/api/v1/alerts/", {"state": "open"}).json()["count"] >= 1
    assert act(ivan, income, "acknowledge").status_code == 200
    assert (
        ivan.patch(f"/api/v1/monitors/{monitored.pk}/", {"enabled": False}, format="json").status_code == 403
    )
    assert AlertAction.objects.get().actor.username == "ivan"


def test_monitor_config_edits_name_the_wrong_field(monitored, api_for, dana):
    api = api_for(dana)
    url = f"/api/v1/monitors/{monitored.pk}/"

    def patch(config):
        return api.patch(url, {"config": config}, format="json")

    for config, field in [
        ({"q": 2}, "config.q"),
        ({"windows": ["month"]}, "config.windows"),
        ({"baseline": "yesterday"}, "config.baseline"),
        ({"overrides": {"Nope": {"test": "ks"}}}, "config.overrides.Nope"),
        ({"overrides": {"Income": {"test": "t_test"}}}, "config.overrides.Income"),
        ({"schedule_minutes": 1}, "config.schedule_minutes"),
        ({"slices": "age"}, "config.slices"),
        ({"colour": "red"}, "config.colour"),
    ]:
        response = patch(config)
        assert response.status_code == 400, (config, response.json())
        assert field in response.json() and field in response.json()["detail"], response.json()
    assert Monitor.objects.get(pk=monitored.pk).config["q"] == 0.05

    changed = patch({"q": 0.01, "overrides": {"Income": {"test": "psi", "floor": 0.2}}})
    assert changed.status_code == 200, changed.json()
    assert changed.json()["config"]["q"] == 0.01 and changed.json()["config"]["windows"] == ["hour", "day"]
    assert AuditEvent.objects.get(action="monitor.updated").details["changed"]["q"] == 0.01

    queued = api.post("/api/v1/check-runs/", {"monitor": monitored.pk, "window": "day"}, format="json")
    assert queued.status_code == 202 and queued.json()["job"] and queued.json()["status"] == "queued"
    assert queued.json()["q"] == 0.01
    bad = api.post("/api/v1/check-runs/", {"monitor": monitored.pk, "window": "fortnight"}, format="json")
    assert bad.status_code == 400 and "window" in bad.json()
