"""The ingestion task in a real Celery worker process, queued with .delay() as beat would."""

import time

import pytest

from apps.serving.models import Prediction
from apps.serving.tasks import ingest_predictions
from tests.conftest import wait_for
from tests.integration.serving_log.conftest import records

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def test_the_worker_drains_the_buffer_into_the_table(celery_worker, buffer):
    for start in range(0, 3000, 250):
        buffer.append(records(250, start=start))
    quiet = getattr(buffer, "segment_seconds", 0)  # until another process may take a spool segment
    time.sleep(quiet)
    ingest_predictions.delay()
    wait_for(lambda: Prediction.objects.count() == 3000, timeout=60)

    buffer.append(records(100, start=3000))
    buffer.append(records(100, start=2950))  # a redelivered tail: stored once
    time.sleep(quiet)
    ingest_predictions.delay()
    wait_for(lambda: Prediction.objects.count() == 3100, timeout=60)
    wait_for(lambda: buffer.pending() == 0, timeout=30)
    assert Prediction.objects.values("request_id").distinct().count() == 3100
