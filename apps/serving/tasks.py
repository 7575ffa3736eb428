import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError

from apps.serving.ingest import drain
from apps.serving.logbuffer import open_buffer

log = logging.getLogger(__name__)


@shared_task(
    name="serving.ingest",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
    ignore_result=True,
)
def ingest_predictions(max_batches: int = 100) -> int:
    """Move the prediction log's buffer into the database (beat runs this every 2 s).

    The buffer's drain lease keeps ticks from stacking drains on a backlog; it is short and renewed
    while the drain runs, so a worker killed mid-drain holds ingestion up for seconds
    (apps/serving/logbuffer.py). Correctness does not depend on it: a buffer hands a record to one
    reader at a time and inserts are idempotent."""
    buffer = open_buffer()
    with buffer.drain_lease() as held:
        if not held:
            return 0
        return drain(buffer, max_batches=max_batches)


# --- batch scoring (queue: deployments; see config/celery.py) -----------------------------------

TRANSIENT = (OperationalError, InterfaceError)
# Both batch tasks: retried while the database is away, stopped after 15 minutes.
BATCH_TASK_OPTIONS = dict(
    autoretry_for=TRANSIENT,
    retry_backoff=True,
    max_retries=5,
    ignore_result=True,
    soft_time_limit=900,
    time_limit=960,
)


@shared_task(name="serving.batch.score", **BATCH_TASK_OPTIONS)
def score_batch_job(batch_job_id: int) -> None:
    """A job's chunks through one sandboxed model process; a slice that runs out of time queues
    the next (see apps/serving/batch/services.py)."""
    from apps.serving.batch.services import batch_job_fail, batch_job_score

    try:
        more = batch_job_score(batch_job_id=batch_job_id)
    except TRANSIENT:
        raise  # the database is away: retried, and recorded chunks are skipped
    except Exception as exc:  # anything else ends the batch job with a reason, not a silent stall
        log.exception("batch job %s failed", batch_job_id)
        batch_job_fail(batch_job_id=batch_job_id, error=f"{type(exc).__name__}: {exc}")
    else:
        if more:
            score_batch_job.delay(batch_job_id)


@shared_task(name="serving.batch.score_chunk", **BATCH_TASK_OPTIONS)
def score_batch_chunk(batch_job_id: int, index: int) -> None:
    from apps.serving.batch.services import batch_chunk_score, batch_job_fail

    try:
        batch_chunk_score(batch_job_id=batch_job_id, index=index)
    except TRANSIENT:
        raise  # the database is away: retried
    except Exception as exc:  # anything else ends the batch job with a reason, not a silent stall
        log.exception("batch job %s: chunk %s failed", batch_job_id, index)
        batch_job_fail(batch_job_id=batch_job_id, error=f"chunk {index + 1}: {type(exc).__name__}: {exc}")


@shared_task(name="serving.batch.finish", **BATCH_TASK_OPTIONS)
def finish_batch_job(batch_job_id: int) -> None:
    from apps.serving.batch.services import batch_job_fail, batch_job_finish

    try:
        batch_job_finish(batch_job_id=batch_job_id)
    except TRANSIENT:
        raise
    except Exception as exc:
        log.exception("batch job %s: writing the scored file failed", batch_job_id)
        error = f"writing the scored file: {type(exc).__name__}: {exc}"
        batch_job_fail(batch_job_id=batch_job_id, error=error)
