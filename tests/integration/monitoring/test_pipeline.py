"""Predictions for a deployed credit model → hourly window profiles → check runs → findings and a
de-duplicated alert with its evidence → notifications. In-process services on the real database;
the Celery path is in test_worker.py."""

from datetime import timedelta

import pytest
from django.core import mail

from apps.deployments.models import Deployment
from apps.monitoring.models import (
    Alert,
    CheckRun,
    Monitor,
    NotificationDelivery,
    ProfileCursor,
    WindowProfile,
)
from apps.monitoring.notifications import notification_send
from apps.monitoring.windows import windows_profile_deployment
from apps.registry.models import ModelVersion
from apps.serving.ingest import ingest_batch
from tests.integration.monitoring.conftest import FEATURES, HOUR0, HOUR1, PLANTED, log_records, run

pytestmark = pytest.mark.django_db


def test_windows_are_profiled_once(monitored, deployed, credit_model, split):
    windows = {w.start: w.rows for w in WindowProfile.objects.filter(deployment=deployed)}
    assert windows == {HOUR0: 1200, HOUR1: 1200}
    cursor = ProfileCursor.objects.get(deployment=deployed).last_prediction_id
    # A re-run (say after a crash) finds nothing new; the same batch delivered again stores nothing.
    assert windows_profile_deployment(deployment=deployed, settle=0) == 0
    assert ingest_batch(monitored.hour0_records) == 0
    assert {w.start: w.rows for w in WindowProfile.objects.filter(deployment=deployed)} == windows
    # Late rows for an earlier hour are merged into that hour.
    ingest_batch(log_records(credit_model, deployed, split[1].iloc[2400:2500], HOUR0))
    assert windows_profile_deployment(deployment=deployed, settle=0) == 100
    assert WindowProfile.objects.get(deployment=deployed, start=HOUR0).rows == 1300
    assert ProfileCursor.objects.get(deployment=deployed).last_prediction_id > cursor
    # A settle time keeps rows received a moment ago for the next pass.
    ingest_batch(log_records(credit_model, deployed, split[1].iloc[2500:2510], HOUR0))
    assert windows_profile_deployment(deployment=deployed, settle=3600) == 0


def test_planted_drift_is_flagged_with_evidence_and_alerted_once(monitored, deployed, split):
    stage_before = ModelVersion.objects.get(pk=deployed.version_id).stage
    clean = run(monitored, HOUR0)
    assert clean.status == CheckRun.Status.SUCCEEDED, clean.error
    flagged_inputs = {f.feature for f in clean.findings.filter(flagged=True) if f.feature in FEATURES}
    assert flagged_inputs == set()
    assert Alert.objects.count() == 0

    shifted = run(monitored, HOUR1)
    assert shifted.status == CheckRun.Status.SUCCEEDED and shifted.rows_current == 1200
    drift = {f.feature: f for f in shifted.findings.filter(check_name="drift")}
    assert {name for name, f in drift.items() if f.flagged and name in FEATURES} == PLANTED
    income = drift["Income"]
    assert income.p_value is not None and income.adjusted_p <= 0.05 and income.effect_size >= income.floor
    assert income.n_reference == split[0]["Income"].notna().sum()  # the reference's known incomes
    assert income.n_current > 1000 and income.severity in ("medium", "high")
    assert shifted.tests_run >= len(FEATURES) and shifted.correction == "bh"
    shares = {row["class"]: row for row in shifted.prediction_shares}
    assert set(shares) == {"good", "bad"} and all(
        r["low"] <= r["current_share"] <= r["high"] for r in shares.values()
    )
    assert shifted.performance["estimated"]["metrics"]["accuracy"]["value"] is not None
    assert "trustworthy" in shifted.performance["estimated"]

    alert = Alert.objects.get(check_name="drift", feature="Income")
    assert alert.state == "open" and alert.occurrences == 1
    assert alert.evidence["test"] == income.test and alert.evidence["adjusted_p"] == income.adjusted_p
    assert alert.evidence["n_current"] == income.n_current and "Income" in alert.summary
    alerts_after_first = Alert.objects.count()
    deliveries = NotificationDelivery.objects.filter(alert=alert)
    assert {d.kind for d in deliveries} == {"email", "webhook"} and all(
        d.event == "alert.opened" for d in deliveries
    )

    again = run(monitored, HOUR1)
    assert again.flagged_count == shifted.flagged_count
    alert.refresh_from_db()
    assert alert.occurrences == 2 and alert.latest_run == again
    assert Alert.objects.count() == alerts_after_first  # de-duplicated: no second alert
    assert NotificationDelivery.objects.filter(alert=alert).count() == 2  # no repeat notification

    # Nothing was changed without a person: the deployment still serves, the stage is as it was.
    assert Deployment.objects.get(pk=deployed.pk).status == Deployment.Status.LIVE
    assert ModelVersion.objects.get(pk=deployed.version_id).stage == stage_before
    assert Deployment.objects.filter(status=Deployment.Status.RETIRED).count() == 0


def test_the_email_carries_the_evidence(monitored):
    run(monitored, HOUR1)
    delivery = NotificationDelivery.objects.filter(kind="email", alert__feature="Income").first()
    notification_send(delivery=delivery)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["credit-oncall@example.com"] and "Income" in message.subject
    assert "adjusted_p" in message.body and "Nothing has been changed automatically" in message.body
    delivery.refresh_from_db()
    assert delivery.status == "sent" and delivery.attempts == 1


def test_a_window_with_too_few_predictions_is_skipped(monitored):
    skipped = run(monitored, HOUR1 + timedelta(hours=5))
    assert skipped.status == CheckRun.Status.SKIPPED and "holds 0 predictions" in skipped.error
    assert skipped.findings.count() == 0


def test_previous_window_baseline(monitored):
    monitored.config = {**monitored.config, "baseline": "previous"}
    monitored.save()
    compared = run(monitored, HOUR1)
    assert compared.baseline == "previous" and compared.rows_baseline == 1200
    flagged = {f.feature for f in compared.findings.filter(flagged=True, check_name="drift")}
    assert flagged >= PLANTED
    assert Monitor.objects.get(pk=monitored.pk).baseline_profile is None


def test_a_merged_window_is_read_once_and_merged_again_when_rows_arrive(
    monitored, deployed, credit_model, split
):
    """The monitoring pages merge the same hours on every request; the merge is cached under the
    hours' count, rows and last update, so a profile that takes new rows is merged again."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.monitoring.models import ReferenceProfile
    from apps.monitoring.stats.profiles import merge_many
    from apps.monitoring.windows import merged_window

    reference = ReferenceProfile.objects.get(version=deployed.version).profile
    end = HOUR1 + timedelta(hours=1)
    first, rows = merged_window(deployment=deployed, start=HOUR0, end=end, reference=reference)
    assert rows == 2400
    with CaptureQueriesContext(connection) as queries:
        again, _ = merged_window(deployment=deployed, start=HOUR0, end=end, reference=reference)
    assert again == first
    # One query for the hours' stamp; their profiles (JSON of every feature) come from the cache.
    assert len(queries) == 1 and '"monitoring_windowprofile"."profile"' not in queries[0]["sql"]
    ingest_batch(log_records(credit_model, deployed, split[1].iloc[2400:2500], HOUR0))
    assert windows_profile_deployment(deployment=deployed, settle=0) == 100
    merged, rows = merged_window(deployment=deployed, start=HOUR0, end=end, reference=reference)
    assert rows == 2500
    hours = WindowProfile.objects.filter(deployment=deployed, start__gte=HOUR0, start__lt=end)
    assert merged == merge_many(list(hours.order_by("start").values_list("profile", flat=True)))
    assert merged != first


def test_profiles_stored_before_value_counts_and_bin_excesses_still_check(monitored, deployed):
    """Reference and window profiles written before issue 15 (no "values", no "excess") are read as
    before: the run succeeds and flags the same planted features."""
    from apps.monitoring.models import ReferenceProfile

    def legacy(profile):
        for feature in profile["features"].values():
            feature.pop("values", None)
            feature.pop("excess", None)
        return profile

    stored = ReferenceProfile.objects.get(version=deployed.version)
    assert any("excess" in f for f in stored.profile["features"].values())
    stored.profile = legacy(stored.profile)
    stored.save()
    for window in WindowProfile.objects.filter(deployment=deployed):
        window.profile = legacy(window.profile)
        window.save()
    shifted = run(monitored, HOUR1)
    assert shifted.status == CheckRun.Status.SUCCEEDED, shifted.error
    drift = {f.feature: f for f in shifted.findings.filter(check_name="drift")}
    assert {name for name, f in drift.items() if f.flagged and name in FEATURES} == PLANTED
