"""The data scientists' monitoring pages on the demo's real history: the heatmap marks the planted
shift, distributions for a numeric and a categorical feature, people's actions through the forms
(recorded with who and why), settings validated by the platform, and who may see and do what."""

import html
import json
import re

import pytest
from django.http import HttpRequest
from django.test import Client
from django.urls import reverse

from apps.core.models import AuditEvent
from apps.monitoring.models import Alert, AlertAction, CheckRun, Monitor
from tests.integration.monitoring_pages.conftest import PASSWORD, income_alert

pytestmark = pytest.mark.django_db


def logged_in(username) -> Client:
    client = Client()
    assert client.login(request=HttpRequest(), username=username, password=PASSWORD)
    return client


def figure(page: str, testid: str) -> dict:
    found = re.search(rf'data-testid="{testid}"[^>]*data-figure="([^"]*)"', page)
    assert found, f"no figure {testid} on the page"
    return json.loads(html.unescape(found.group(1)))


def flagged_cells(heatmap: dict) -> set[tuple[str, str]]:
    marks = heatmap["data"][1]
    return set(zip(marks["y"], marks["x"], strict=True))


def model_page(client, monitor, window="day"):
    url = reverse("monitoring:model", args=[monitor.deployment.version.model_id])
    return client.get(url, {"monitor": monitor.pk, "window": window})


def test_heatmap_distributions_shares_and_performance(history, django_assert_max_num_queries):
    dana = logged_in("dana")
    with django_assert_max_num_queries(40):
        response = model_page(dana, history)
    assert response.status_code == 200
    page = response.content.decode()
    heat = figure(page, "heatmap")
    last_day = heat["data"][0]["x"][-1]
    assert {("Income", last_day), ("Home", last_day)} <= flagged_cells(heat)
    assert not {y for y, x in flagged_cells(heat) if x != last_day} & {"Income", "Home"}
    hover = heat["data"][0]["hovertext"][heat["data"][0]["y"].index("Income")][-1]
    assert "adjusted p" in hover and "n = " in hover and "flagged" in hover
    flagged_line = re.search(r'data-testid="flagged-latest">(.*?)</p>', page, re.S).group(1)
    assert "Income" in flagged_line and "Home" in flagged_line
    # The page opens on the strongest flagged feature of the latest window, with its test beside it.
    assert 'data-testid="feature-panel"' in page and 'data-testid="chart-distribution"' in page
    shares = figure(page, "chart-shares")
    assert {t["name"] for t in shares["data"]} >= {'"good"', '"bad"', '"bad" in the reference'}
    performance = figure(page, "chart-performance")
    names = {t["name"] for t in performance["data"]}
    assert "roc_auc realised" in names and "roc_auc estimated (CBPE)" in names
    assert "trustworthy" in page  # the CBPE verdict
    assert 'data-testid="quality-table"' in page

    hourly = model_page(dana, history, window="hour").content.decode()
    assert any(y == "Income" for y, _ in flagged_cells(figure(hourly, "heatmap")))

    run = CheckRun.objects.filter(monitor=history, window="day").order_by("-window_end").first()
    panel_url = reverse("monitoring:feature-panel", args=[history.pk])
    numeric = dana.get(panel_url, {"run": run.pk, "feature": "Income"}).content.decode()
    assert 'data-kind="numeric"' in numeric and "flagged" in numeric
    bars = figure(numeric, "chart-distribution")["data"]
    assert bars[0]["name"] == "reference" and abs(sum(bars[0]["y"]) - 1) < 0.02
    categorical = dana.get(panel_url, {"run": run.pk, "feature": "Home"}).content.decode()
    home = figure(categorical, "chart-distribution")["data"]
    assert 'data-kind="categorical"' in categorical and "rent" in home[0]["x"]
    rent = home[0]["x"].index("rent")
    assert home[1]["y"][rent] > home[0]["y"][rent]  # more renters in the shifted day
    assert "chi_squared" in categorical or "chi" in categorical
    assert dana.get(panel_url, {"run": run.pk, "feature": "nope"}).status_code == 404
    assert dana.get(panel_url, {"run": "x", "feature": "Income"}).status_code == 404


def test_actions_through_the_forms_are_recorded_with_who_and_why(history):
    dana = logged_in("dana")
    alert = income_alert(history)
    url = reverse("monitoring:alert-detail", args=[alert.pk])
    act = reverse("monitoring:alert-action", args=[alert.pk])
    page = dana.get(url).content.decode()
    assert "Income" in page and 'data-testid="alert-evidence"' in page and "bh at q 0.05" in page
    assert 'data-testid="chart-distribution"' in page  # the feature's charts beside the evidence

    missing = dana.post(act, {"action": "resolve", "reason": ""})
    assert missing.status_code == 400
    assert "resolve needs a reason" in missing.content.decode()
    assert 'data-testid="error-reason-resolve"' in missing.content.decode()
    assert Alert.objects.get(pk=alert.pk).state == "open" and not AlertAction.objects.exists()

    assert dana.post(act, {"action": "acknowledge", "reason": ""}).status_code == 302
    reason = "lower incomes after the spring campaign; asking for a retrain on recent data"
    assert dana.post(act, {"action": "request_retraining", "reason": reason}).status_code == 302
    alert.refresh_from_db()
    assert alert.state == "acknowledged"
    actions = list(AlertAction.objects.filter(alert=alert).order_by("id"))
    assert [(a.action, a.actor.username, a.reason) for a in actions] == [
        ("acknowledge", "dana", ""),
        ("request_retraining", "dana", reason),
    ]
    assert AuditEvent.objects.filter(action="alert.request_retraining").exists()
    history_table = dana.get(url).content.decode().split('data-testid="alert-history"')[1]
    assert "dana" in history_table and reason in history_table

    # Accepting the window as the new normal: the monitor's baseline changes, by a person.
    assert (
        dana.post(act, {"action": "rebaseline", "reason": "the new campaign is here to stay"}).status_code
        == 302
    )
    monitor = Monitor.objects.get(pk=history.pk)
    assert monitor.baseline_set_by.username == "dana" and monitor.baseline_profile is not None
    assert Alert.objects.get(pk=alert.pk).state == "resolved"
    assert 'data-testid="action-' not in dana.get(url).content.decode()  # resolved: no more forms

    listing = dana.get(reverse("monitoring:alert-list"), {"state": "resolved"}).content.decode()
    assert f'href="{url}"' in listing


def test_other_team_gets_404_and_the_business_owner_only_reads(history):
    alert = income_alert(history)
    model_id = history.deployment.version.model_id
    mark = logged_in("mark")
    for url in (
        reverse("monitoring:model", args=[model_id]),
        reverse("monitoring:alert-detail", args=[alert.pk]),
        reverse("monitoring:monitor-settings", args=[history.pk]),
        reverse("monitoring:feature-panel", args=[history.pk]) + "?feature=Income",
    ):
        assert mark.get(url).status_code == 404, url
    assert (
        mark.post(reverse("monitoring:alert-action", args=[alert.pk]), {"action": "acknowledge"}).status_code
        == 404
    )
    assert mark.post(reverse("monitoring:run-now", args=[history.pk])).status_code == 404
    assert "Income" not in mark.get(reverse("monitoring:alert-list")).content.decode()

    bea = logged_in("bea")
    page = bea.get(reverse("monitoring:alert-detail", args=[alert.pk])).content.decode()
    assert 'data-testid="read-only"' in page and 'data-testid="action-' not in page
    denied = bea.post(reverse("monitoring:alert-action", args=[alert.pk]), {"action": "acknowledge"})
    assert denied.status_code == 403 and not AlertAction.objects.exists()
    monitoring = model_page(bea, history).content.decode()
    assert 'data-testid="heatmap"' in monitoring and 'data-testid="run-now"' not in monitoring
    assert bea.get(reverse("monitoring:monitor-settings", args=[history.pk])).status_code == 403
    home = bea.get(reverse("dashboards:home")).content.decode()
    tile = re.search(r'data-testid="open-alerts">(\d+)<', home)
    assert tile and int(tile.group(1)) == Alert.objects.exclude(state="resolved").count() > 0

    home = logged_in("dana").get(reverse("dashboards:home")).content.decode()
    assert int(re.search(r'data-testid="open-alerts">(\d+)<', home).group(1)) > 0
    assert 'data-testid="open-alerts">0<' in mark.get(reverse("dashboards:home")).content.decode()


def test_settings_are_validated_by_the_platform_and_run_now_shows_progress(history):
    dana = logged_in("dana")
    url = reverse("monitoring:monitor-settings", args=[history.pk])
    assert dana.get(url).status_code == 200
    good = {
        "enabled": "on",
        "windows": ["hour", "day"],
        "baseline": "reference",
        "q": "0.05",
        "correction": "bh",
        "schedule_minutes": "60",
        "min_rows": "100",
    }
    bad = dana.post(url, {**good, "q": "0.9", "windows": []})
    assert bad.status_code == 400
    text = bad.content.decode()
    assert 'data-testid="error-q"' in text and "0.9 is not a level between 0" in text
    assert 'data-testid="error-windows"' in text and "non-empty list" in text
    saved = dana.post(url, {**good, "q": "0.01", "override__test__Income": "psi", "floor__null_rate": "0.05"})
    assert saved.status_code == 302
    config = Monitor.objects.get(pk=history.pk).config
    assert config["q"] == 0.01 and config["overrides"] == {"Income": {"test": "psi"}}
    assert config["floors"] == {"null_rate": 0.05}
    assert AuditEvent.objects.filter(action="monitor.updated", actor__username="dana").exists()

    progress = dana.post(
        reverse("monitoring:run-now", args=[history.pk]), {"window": "day"}, HTTP_HX_REQUEST="true"
    )
    assert progress.status_code == 200 and 'data-testid="job-progress"' in progress.content.decode()
    run = CheckRun.objects.filter(monitor=history, trigger="manual", requested_by__username="dana").get()
    assert run.job is not None and run.window == "day"
    refused = dana.post(
        reverse("monitoring:run-now", args=[history.pk]), {"window": "year"}, HTTP_HX_REQUEST="true"
    )
    assert refused.status_code == 400 and "year" in refused.content.decode()
    assert "is not one of hour, day, week" in refused.content.decode()
