"""The demo's backfill makes a real history: predictions with outcomes, hourly profiles, runs that
flag the planted shift (Income, Home) in the last day and not before, and one open alert."""

import pytest

from apps.monitoring.models import CheckRun, WindowProfile
from apps.serving.models import Outcome, Prediction
from tests.integration.monitoring_pages.conftest import income_alert

pytestmark = pytest.mark.django_db


def test_the_backfill_flags_the_planted_shift_only_in_the_last_day(history):
    deployment = history.deployment
    predictions = Prediction.objects.filter(
        deployment_id=deployment.pk, request_id__startswith="demo-backfill-"
    )
    assert predictions.count() == 7 * 24 * 150
    assert 0 < Outcome.objects.filter(request_id__startswith="demo-backfill-").count() < predictions.count()
    assert WindowProfile.objects.filter(deployment=deployment).count() == 7 * 24
    days = list(CheckRun.objects.filter(monitor=history, window="day").order_by("window_end"))
    assert len(days) == 7 and all(r.status == "succeeded" for r in days)
    flagged = [{f.feature for f in r.findings.filter(flagged=True, check_name="drift")} for r in days]
    assert {"Income", "Home"} <= flagged[-1]
    assert flagged[:-1] == [set()] * 6  # no input drifts before the shift
    assert days[0].performance["realised"]["rows"] > 0  # outcomes for the older days
    assert days[-1].performance["realised"] is None  # none yet for the last two days
    alert = income_alert(history)
    assert alert.state == "open" and alert.occurrences > 1  # the daily run and the hourly ones
    # The demo itself ran the last day's runs and queued the older hourly ones for the worker.
    assert CheckRun.objects.filter(monitor=history, window="hour", status="succeeded").count() == 24
    assert CheckRun.objects.filter(monitor=history, window="hour", status="queued").count() == 24
