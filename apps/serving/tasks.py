import hashlib
import os

from celery import shared_task
from django.core.cache import cache
from django.db import OperationalError

from apps.serving.ingest import drain
from apps.serving.logbuffer import open_buffer

# Longer than a drain of max_batches takes; a lock left by a killed worker expires by itself.
LOCK_SECONDS = 300


def lock_key(buffer) -> str:
    return "serving.ingest:" + hashlib.sha256(repr(buffer).encode()).hexdigest()[:16]


@shared_task(
    name="serving.ingest",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
    ignore_result=True,
)
def ingest_predictions(max_batches: int = 100) -> int:
    """Move the prediction log's buffer into the database (beat runs this every 2 s).

    The lock only keeps ticks from stacking drains on a backlog: correctness does not depend on
    it, since a buffer hands a record to one reader at a time and inserts are idempotent."""
    buffer = open_buffer()
    lock = lock_key(buffer)
    if not cache.add(lock, os.getpid(), timeout=LOCK_SECONDS):
        return 0
    try:
        return drain(buffer, max_batches=max_batches)
    finally:
        cache.delete(lock)
