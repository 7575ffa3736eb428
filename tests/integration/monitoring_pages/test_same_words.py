"""Issue 15, "same words everywhere": on the demo's real history no page, alert or e-mail shows an
internal name (``__prediction__``, ``__score__``, ``two_proportion_z``, "dayly"), and the drift
heatmap names a window by the period it covers, in the reader's time zone."""

import html
import json
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from apps.kpis.models import KpiDefinition
from apps.monitoring import charts
from apps.monitoring.models import Alert, CheckRun, Finding, Monitor
from apps.notices.models import Notice
from apps.notices.services import notice_email
from tests.integration.kpis.test_pages_demo import demo, logged_in  # noqa: F401  (demo: a fixture)

INTERNAL = ("__prediction__", "__score__", "two_proportion_z", "dayly")
PARIS = ZoneInfo("Europe/Paris")


def _visible_text(page: str) -> str:
    """What a person reads: the page without its tags, plus the chart figures' labels and hovers."""
    figures = [json.loads(html.unescape(f)) for f in re.findall(r'data-figure="([^"]*)"', page)]
    shown = [re.sub(r"<[^>]+>", " ", html.unescape(page))]
    for figure in figures:
        for trace in figure.get("data", []):
            for key in ("x", "y", "name", "hovertext", "text"):
                shown.append(json.dumps(trace.get(key), ensure_ascii=False))
        shown.append(json.dumps(figure.get("layout", {}).get("xaxis", {}).get("title"), ensure_ascii=False))
    return "\n".join(shown)


def _assert_plain(where: str, text: str) -> None:
    for name in INTERNAL:
        assert name not in text, f"{where} shows {name!r}"


@pytest.mark.django_db
def test_no_page_alert_or_email_of_the_demo_shows_an_internal_name(demo):  # noqa: F811
    monitor = Monitor.objects.get(deployment=demo["deployment"])
    # The demo's data does hold the internal names: the checks ran on the model's outputs.
    assert Finding.objects.filter(run__monitor=monitor, feature="__prediction__").exists()
    assert Finding.objects.filter(run__monitor=monitor, test="two_proportion_z").exists()
    model = monitor.deployment.version.model
    dana, bea = logged_in("dana"), logged_in("bea")
    model_url = reverse("monitoring:model", args=[model.pk])
    pages = {}
    for window in ("hour", "day", "week"):
        pages[f"monitoring {window}"] = dana.get(model_url, {"monitor": monitor.pk, "window": window})
    run = CheckRun.objects.filter(monitor=monitor, window="day", status="succeeded").latest("window_end")
    panel = reverse("monitoring:feature-panel", args=[monitor.pk])
    for feature in ("__prediction__", "__score__"):
        pages[f"panel {feature}"] = dana.get(panel, {"run": run.pk, "feature": feature})
    pages["alert list"] = dana.get(reverse("monitoring:alert-list"), {"state": "all"})
    alerts = list(Alert.objects.filter(monitor=monitor))
    assert alerts
    for alert in alerts:
        pages[f"alert {alert.pk} ({alert.check_name}, {alert.feature})"] = dana.get(
            reverse("monitoring:alert-detail", args=[alert.pk])
        )
    pages["business home"] = bea.get(reverse("dashboards:home"))
    pages["business alerts"] = bea.get(reverse("monitoring:alert-list"))
    for kpi in KpiDefinition.objects.filter(model=model):
        pages[f"KPI {kpi.name}"] = bea.get(reverse("kpis:detail", args=[kpi.pk]), {"period": "30d"})
    for where, response in pages.items():
        assert response.status_code == 200, where
        _assert_plain(where, _visible_text(response.content.decode()))
    assert 'data-testid="what-changed"' in pages["KPI Approval rate"].content.decode()
    daily = pages["monitoring day"].content.decode()
    # The latest daily column is the day before the demo's end (midnight UTC today), named by that day.
    last_day = demo["end"] - timedelta(days=1)
    heat = next(f for f in re.findall(r'data-testid="heatmap" data-figure="([^"]*)"', daily))
    assert (
        json.loads(html.unescape(heat))["data"][0]["x"][-1] == f"{last_day:%a} {last_day.day} {last_day:%b}"
    )
    assert "daily windows" in daily and "hourly windows" in daily and "weekly windows" in daily

    # The e-mails people get for the alerts (each notice once, as the worker sends it).
    notices = Notice.objects.filter(kind=Notice.Kind.ALERT)
    assert notices.exists()
    mail.outbox.clear()
    for notice in notices:
        notice.recipient.email = notice.recipient.email or f"{notice.recipient.username}@example.com"
        notice.recipient.save(update_fields=["email"])
        notice_email(notice_id=notice.pk)
    assert mail.outbox
    for message in mail.outbox:
        _assert_plain(f"e-mail {message.subject!r}", f"{message.subject}\n{message.body}")
    # And the API: raw names stay, display fields sit beside them.
    rows = dana.get("/api/v1/findings/", {"run": run.pk, "feature": "__prediction__", "limit": 500}).json()
    shares = [r for r in rows["results"] if r["test"] == "two_proportion_z"]
    assert shares and all(r["feature"] == "__prediction__" for r in shares)
    assert {(r["feature_display"], r["check_display"], r["test_display"]) for r in shares} == {
        ("prediction", "class share", "two-proportion z-test")
    }
    alert = dana.get(f"/api/v1/alerts/{alerts[0].pk}/").json()
    assert alert["check"] == alerts[0].check_name and alert["check_display"] and alert["window_label"]


def _heatmap(start: datetime, end: datetime, zone: str = "") -> dict:
    data = {"features": ["Income"], "runs": [{"id": 1, "start": start, "end": end}], "cells": [[None]]}
    figure = charts.heatmap_chart(data, "day", zone) if zone else charts.heatmap_chart(data, "day")
    return figure.to_plotly_json()


def test_the_heatmap_names_the_daily_window_of_5_december_by_its_day():
    start = datetime(2026, 12, 5, tzinfo=UTC)
    figure = _heatmap(start, start + timedelta(days=1))
    assert list(figure["data"][0]["x"]) == ["Sat 5 Dec"]  # not "2026-12-06", the window's end
    assert figure["layout"]["xaxis"]["title"]["text"] == "daily windows (UTC)"


@override_settings(TIME_ZONE="Europe/Paris")
def test_the_heatmap_label_is_in_the_readers_zone():
    start = datetime(2026, 12, 5, tzinfo=PARIS)  # 4 Dec 23:00 UTC
    with timezone.override(PARIS):
        figure = _heatmap(start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC))
        named = _heatmap(start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC), "Europe/Paris")
    assert list(figure["data"][0]["x"]) == ["Sat 5 Dec"] == list(named["data"][0]["x"])
    assert named["layout"]["xaxis"]["title"]["text"] == "daily windows (Europe/Paris)"
