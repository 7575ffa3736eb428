"""The Celery path end to end, on a real worker: a deployment going live gets a monitor and a
reference profile; live traffic becomes window profiles; a check run asked for through the API
raises an alert whose webhook is retried until a local HTTP server accepts it."""

import pytest

from apps.deployments.models import Deployment
from apps.monitoring.models import (
    Alert,
    CheckRun,
    Monitor,
    NotificationChannel,
    NotificationDelivery,
    ReferenceProfile,
    WindowProfile,
)
from apps.monitoring.tasks import profile_windows
from apps.registry.models import ModelVersion
from apps.serving.ingest import ingest_batch
from tests.conftest import wait_for
from tests.integration.monitoring.conftest import HOUR0, HOUR1, drifted, log_records

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def settle_now(monkeypatch):
    """The worker profiles rows as soon as they are stored (it reads this at start-up)."""
    monkeypatch.setenv("MODELYARD_MONITORING_SETTLE_SECONDS", "0")


def test_live_traffic_to_alert_and_webhook(
    settle_now, celery_worker, deployed, credit_model, split, api_for, dana, webhook
):
    monitor = wait_for(lambda: Monitor.objects.filter(deployment=deployed).first(), timeout=30)
    reference = wait_for(
        lambda: ReferenceProfile.objects.filter(
            version=deployed.version, status__in=["ready", "failed"]
        ).first(),
        timeout=120,
    )
    assert reference.status == "ready", reference.error
    NotificationChannel.objects.create(
        team=deployed.version.model.team,
        name="oncall",
        emails=["oncall@example.com"],
        webhook_url=webhook.url,
    )
    live = split[1]
    ingest_batch(log_records(credit_model, deployed, live.iloc[:1200], HOUR0))
    ingest_batch(log_records(credit_model, deployed, drifted(live.iloc[1200:2400]), HOUR1))
    profile_windows.delay()
    wait_for(
        lambda: sum(w.rows for w in WindowProfile.objects.filter(deployment=deployed)) == 2400, timeout=60
    )

    api = api_for(dana)
    end = (HOUR1.replace(minute=0) + (HOUR1 - HOUR0)).isoformat()
    queued = api.post(
        "/api/v1/check-runs/", {"monitor": monitor.pk, "window": "hour", "end": end}, format="json"
    )
    assert queued.status_code == 202, queued.json()
    run = wait_for(
        lambda: CheckRun.objects.filter(pk=queued.json()["id"], status__in=["succeeded", "failed"]).first(),
        timeout=120,
    )
    assert run.status == "succeeded", run.error
    # The job is marked done just after its check run is saved: wait for it, as a client would.
    job_url = f"/api/v1/jobs/{queued.json()['job']}/"
    assert wait_for(lambda: api.get(job_url).json()["status"] not in ("queued", "running"), timeout=30)
    assert api.get(job_url).json()["status"] == "succeeded"
    assert {"Income", "Home"} <= set(
        run.findings.filter(flagged=True, check_name="drift").values_list("feature", flat=True)
    )
    alert = Alert.objects.get(check_name="drift", feature="Income")

    # The first POST gets a 500; Celery retries it after a back-off and the second is accepted.
    wait_for(lambda: any(b["alert"]["feature"] == "Income" for b in webhook.bodies), timeout=60)
    assert webhook.statuses[0] == 500
    body = next(b for b in webhook.bodies if b["alert"]["feature"] == "Income")
    assert body["event"] == "alert.opened" and body["alert"]["id"] == alert.pk
    assert body["alert"]["evidence"]["adjusted_p"] <= 0.05 and body["alert"]["model"] == "credit-default"
    first = wait_for(
        lambda: NotificationDelivery.objects.filter(kind="webhook", status="sent", attempts__gte=2).first(),
        timeout=30,
    )
    assert first.last_error.startswith("the webhook answered 500")
    wait_for(
        lambda: NotificationDelivery.objects.filter(kind="email", alert=alert, status="sent").exists(),
        timeout=30,
    )

    # A flagged run changed no deployment and no version stage.
    assert Deployment.objects.get(pk=deployed.pk).status == Deployment.Status.LIVE
    assert ModelVersion.objects.get(pk=deployed.version_id).stage == deployed.version.stage
