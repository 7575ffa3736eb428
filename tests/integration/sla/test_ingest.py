"""Service-level records through ingestion on the configured database: exactly once, additive,
safe under two concurrent ingesters, and worker samples kept once."""

import threading
import uuid
from datetime import UTC, datetime

import pytest
from django.db import connections

from apps.serving.ingest import drain, ingest_batch
from apps.serving.logbuffer import open_buffer
from apps.sla import stats
from apps.sla.models import SlaFlush, SlaRollup, WorkerSample

MINUTE = 1_740_830_400  # 2025-03-01 12:00 UTC


def sla_record(
    count=10, *, errors=0, client_errors=0, minute=MINUTE, version=1, latency_ms=4.0, env="production"
):
    buckets = stats.empty()
    buckets[stats.bucket_of(latency_ms)] = count
    return {
        "kind": "sla",
        "id": f"{uuid.uuid4().hex}:0",
        "endpoint": "credit-risk",
        "environment": env,
        "version": version,
        "minute": minute,
        "count": count,
        "errors": errors,
        "client_errors": client_errors,
        "latency_sum_ms": latency_ms * count,
        "buckets": stats.to_sparse(buckets),
        "histogram": stats.HISTOGRAM_ID,
    }


def resource_record(ts=MINUTE + 5.25, pid=4242):
    return {
        "kind": "resource",
        "id": f"{uuid.uuid4().hex}:resource",
        "host": "inference-1",
        "pid": pid,
        "ts": ts,
        "cpu_seconds": 3.5,
        "cpu_percent": 12.5,
        "rss_bytes": 150 << 20,
        "requests": 60,
    }


@pytest.mark.django_db
def test_a_record_ingested_twice_counts_once():
    records = [sla_record(10, errors=1, client_errors=2), resource_record()]
    ingest_batch(records)
    ingest_batch(records)  # the log delivered the batch again
    ingest_batch([records[0], records[0]])  # and the same record twice in one batch
    rollup = SlaRollup.objects.get()
    assert (rollup.count, rollup.errors, rollup.client_errors) == (10, 1, 2)
    assert rollup.minute == datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    assert sum(rollup.buckets) == 10 and rollup.latency_sum_ms == 40.0
    sample = WorkerSample.objects.get()
    assert sample.cpu_percent == 12.5 and sample.rss_bytes == 150 << 20 and sample.requests == 60
    assert SlaFlush.objects.count() == 1


@pytest.mark.django_db
def test_two_flushes_for_the_same_minute_add_up_and_other_cells_stay_apart():
    ingest_batch([sla_record(10, latency_ms=2.0), sla_record(5, errors=5, latency_ms=300.0)])
    ingest_batch([sla_record(7, latency_ms=2.0), sla_record(3, version=2), sla_record(1, env="staging")])
    ingest_batch([sla_record(4, minute=MINUTE + 60 + 17)])  # a later minute, its start kept
    first = SlaRollup.objects.get(
        version_number=1, environment="production", minute__second=0, minute__minute=0
    )
    assert (first.count, first.errors) == (22, 5)
    assert first.buckets[stats.bucket_of(2.0)] == 17 and first.buckets[stats.bucket_of(300.0)] == 5
    assert stats.percentile(first.buckets, 99) > 200
    assert SlaRollup.objects.count() == 4
    assert SlaRollup.objects.get(minute__minute=1).minute.second == 0


@pytest.mark.django_db
def test_unusable_records_are_skipped_and_the_rest_kept(caplog):
    good = sla_record(3)
    bad = [
        {**sla_record(1), "histogram": "other-bounds"},
        {**sla_record(1), "errors": 2},  # more errors than requests
        {**sla_record(1), "buckets": {"500": 1}},
        {**sla_record(1), "endpoint": ""},
        {**resource_record(), "pid": "x"},
    ]
    ingest_batch([*bad, good])
    assert SlaRollup.objects.get().count == 3
    assert WorkerSample.objects.count() == 0
    assert caplog.text.count("unusable") == 5


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_ingesters_neither_lose_nor_double_an_update():
    """Two threads (two database connections) ingest overlapping deliveries of the same records
    into the same minutes at once, as two Celery workers would after a redelivery."""
    records = [
        sla_record(1 + i % 3, minute=MINUTE + 60 * (i % 4), version=1 + (i // 4) % 2) for i in range(240)
    ]
    expected = sum(r["count"] for r in records)
    barrier = threading.Barrier(2)
    failures = []

    def ingest(part):
        try:
            barrier.wait()
            for start in range(0, len(part), 20):
                ingest_batch(part[start : start + 20])
        except Exception as error:  # pragma: no cover - reported below
            failures.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=ingest, args=(part,)) for part in (records[:180], records[60:][::-1])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    assert sum(SlaRollup.objects.values_list("count", flat=True)) == expected
    assert SlaRollup.objects.count() == 8  # 4 minutes × 2 versions
    assert SlaFlush.objects.count() == 240


@pytest.mark.django_db
def test_drain_moves_service_levels_from_the_buffer(monkeypatch, tmp_path):
    monkeypatch.setenv("MODELYARD_PREDICTION_LOG_PREFIX", f"modelyard-test-{uuid.uuid4().hex[:12]}:")
    monkeypatch.setenv("MODELYARD_SPOOL_DIR", str(tmp_path / "spool"))
    buffer = open_buffer()
    try:
        buffer.append([sla_record(6), resource_record()])
        buffer.append([sla_record(4)])
        drain(buffer)
        assert SlaRollup.objects.get().count == 10 and WorkerSample.objects.count() == 1
        assert buffer.pending() == 0
    finally:
        redis = getattr(buffer, "_redis", None)
        if redis is not None:
            redis.delete(buffer.key)
