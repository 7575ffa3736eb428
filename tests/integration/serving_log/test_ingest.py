"""ingest_batch and drain on the configured database: idempotent inserts, rejected requests kept
without their values, unusable records skipped, and outcomes joined to their predictions."""

import math

import pytest

from apps.serving.ingest import drain, ingest_batch, outcomes_ingest
from apps.serving.models import Outcome, Prediction, RejectedRequest
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


def test_outcomes_join_by_request_id_or_business_key():
    ingest_batch(records(5))
    accepted, unknown = outcomes_ingest(
        [
            {"endpoint": "credit", "request_id": "req-0", "value": 1},
            {"endpoint": "credit", "request_id": "req-1", "row": 0, "value": 0},
            {"endpoint": "credit", "request_id": "req-1", "row": 9, "value": 0},  # no such row
            {"endpoint": "credit", "request_id": "nobody", "value": 1},
            {"endpoint": "other", "request_id": "req-2", "value": 1},  # another endpoint's id
        ]
    )
    assert (accepted, unknown) == (2, ["req-1", "nobody", "req-2"])

    accepted, unknown = outcomes_ingest(
        [
            {"endpoint": "credit", "business_key": "c3", "value": 1, "observed_at": START.isoformat()},
            {"endpoint": "credit", "business_key": "c99", "value": 1},
        ],
        key_field="customer",
    )
    assert (accepted, unknown) == (1, ["c99"])
    joined = Outcome.objects.get(business_key="c3")
    assert (joined.request_id, joined.row, joined.value, joined.observed_at) == ("req-3", 0, 1, START)

    outcomes_ingest([{"endpoint": "credit", "request_id": "req-0", "value": 0}])  # a corrected label
    assert Outcome.objects.get(request_id="req-0").value == 0
    assert Outcome.objects.count() == 3


def test_outcomes_without_a_key_are_refused():
    with pytest.raises(ValueError):
        outcomes_ingest([{"endpoint": "credit", "value": 1}])


def test_the_task_drains_unless_a_drain_is_already_running(buffer):
    from django.core.cache import cache

    from apps.serving.tasks import ingest_predictions, lock_key

    buffer.append(records(20))
    cache.add(lock_key(buffer), "another worker", timeout=60)
    try:
        assert ingest_predictions() == 0
        assert buffer.pending() == 20
    finally:
        cache.delete(lock_key(buffer))
    assert ingest_predictions() == 20
    assert buffer.pending() == 0 and Prediction.objects.count() == 20


def test_outcomes_from_csv_cells_and_in_bulk():
    ingest_batch(records(1200))
    cells = [
        {
            "endpoint": "credit",
            "request_id": f"req-{i}",
            "row": "",
            "business_key": "",
            "value": "1",
            "observed_at": "",
        }
        for i in range(1100)
    ]
    assert outcomes_ingest(cells) == (1100, [])
    assert outcomes_ingest(cells[:600] + [{**cells[0], "request_id": "req-5000"}]) == (600, ["req-5000"])
    assert Outcome.objects.count() == 1100 and Outcome.objects.filter(business_key=None).count() == 1100
    with pytest.raises(ValueError, match="req-1"):
        outcomes_ingest([{**cells[1], "row": "first"}])


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
