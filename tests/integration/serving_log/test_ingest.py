"""ingest_batch and drain on the configured database: idempotent inserts, rejected requests kept
without their values, unusable records skipped (outcomes: test_outcomes.py)."""

import math

import pytest

from apps.serving.ingest import drain, ingest_batch
from apps.serving.models import Prediction, RejectedRequest
from tests.integration.serving_log.conftest import START, records

pytestmark = pytest.mark.django_db


def test_a_batch_ingested_again_inserts_nothing():
    batch = records(500)
    assert ingest_batch(batch) == 500
    assert ingest_batch(batch) == 0
    assert ingest_batch(batch[100:200] + records(10, start=500)) == 10
    assert Prediction.objects.count() == 510
    stored = Prediction.objects.get(request_id="req-7")
    assert stored.inputs["f3"] == 6.5 and stored.probabilities == [0.25, 0.75]
    assert stored.ts.isoformat() == batch[7]["ts"] and stored.received_at is not None


def test_duplicates_inside_one_batch_are_stored_once_and_shadows_apart():
    batch = records(5) + records(5) + records(5, deployment_id=2)  # a shadow deployment's copy
    assert ingest_batch(batch) == 10
    assert Prediction.objects.filter(request_id="req-0").count() == 2


def test_rejected_requests_are_kept_once_without_values():
    rejected = {
        "kind": "rejected",
        "request_id": "bad-1",
        "endpoint": "credit",
        "environment": "production",
        "version_id": 3,
        "deployment_id": 1,
        "errors": ["age: expected a number"],
        "ts": START.timestamp(),
    }
    assert ingest_batch([rejected, *records(2)]) == 2
    ingest_batch([rejected])
    stored = RejectedRequest.objects.get()
    assert stored.errors == ["age: expected a number"] and stored.ts == START


def test_unusable_records_are_skipped_and_the_rest_stored(caplog):
    good = records(3)
    nan = {**records(1, start=3)[0], "prediction": math.nan, "probabilities": [math.inf, 0.5]}
    bad = [{"request_id": "x"}, {**good[0], "request_id": "y" * 65}, {**good[0], "ts": "yesterday"}]
    assert ingest_batch([*good, nan, *bad]) == 4
    assert "unusable record skipped" in caplog.text
    stored = Prediction.objects.get(request_id="req-3")
    assert stored.prediction is None and stored.probabilities == [None, 0.5]  # JSON has no NaN


def test_drain_moves_the_buffer_into_the_table_and_acknowledges(buffer):
    for start in range(0, 12_000, 1000):
        buffer.append(records(1000, start=start))
    assert drain(buffer, batch_size=5000) == 12_000
    assert buffer.pending() == 0
    assert Prediction.objects.count() == 12_000
    assert drain(buffer) == 0


def test_the_task_drains_unless_a_drain_is_already_running(buffer):
    from apps.serving.tasks import ingest_predictions

    buffer.append(records(20))
    with buffer.drain_lease() as held:  # another drain holds the lease
        assert held
        assert ingest_predictions() == 0
        assert buffer.pending() == 20
    assert ingest_predictions() == 20
    assert buffer.pending() == 0 and Prediction.objects.count() == 20


def test_a_reused_request_id_that_reached_the_log_is_reported_not_dropped_silently(caplog):
    """Two answered predictions under one request id (a claim that expired, a lost claim store):
    the second cannot be stored beside the first, and ingestion says so; a redelivery does not."""
    from apps.serving import ingest

    first = records(3)
    assert ingest_batch(first) == 3
    before = ingest.reused_request_ids_skipped
    caplog.clear()
    assert ingest_batch(first) == 0  # a redelivery: the same records
    assert ingest.reused_request_ids_skipped == before and not caplog.records

    later = [{**r, "ts": (START.replace(hour=13)).isoformat(), "prediction": 1} for r in first[:2]]
    with caplog.at_level("ERROR", logger="apps.serving.ingest"):
        assert ingest_batch(later + records(1, start=3)) == 1
    assert ingest.reused_request_ids_skipped - before == 2
    message = " ".join(r.getMessage() for r in caplog.records)
    assert "2 predictions skipped" in message and "reused request id" in message
    assert "credit/req-0" in message and "credit/req-1" in message
    assert Prediction.objects.get(request_id="req-0").ts.isoformat() == first[0]["ts"]

    inside = records(1, prefix="twice") + [{**records(1, prefix="twice")[0], "ts": later[0]["ts"]}]
    with caplog.at_level("ERROR", logger="apps.serving.ingest"):
        assert ingest_batch(inside) == 1
    assert ingest.reused_request_ids_skipped - before == 3
