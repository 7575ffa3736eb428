"""The ingestion worker is killed (``kill -9`` of its whole process group, as a container dies)
between drains and in the middle of one: once a new worker is up, ingestion resumes within 10 s
and every answered prediction is stored exactly once."""

import time

import pytest

from apps.serving.logbuffer import RedisStreamBuffer
from tests.faults.conftest import STREAM, Traffic, backlog_records, drain_running, settle, wait_for

pytestmark = pytest.mark.faults

RESUME_SECONDS = 10


def seconds_until_stored_grows(world, postgres, prefix: str, timeout: float) -> float:
    """Seconds until more rows under ``prefix`` are stored than now."""
    started = time.monotonic()
    before = sum(world.stored(prefix, postgres).values())
    wait_for(
        lambda: sum(world.stored(prefix, postgres).values()) > before,
        timeout=timeout,
        interval=0.25,
        what="ingestion resuming",
    )
    return time.monotonic() - started


def test_a_worker_killed_between_drains_resumes_within_10_s_of_its_restart(stack, postgres, redis_server):
    stack.start_all()
    with Traffic(stack, "worker-between") as traffic:
        time.sleep(4)
        wait_for(
            lambda: not drain_running(redis_server), timeout=10, interval=0.05, what="a moment between drains"
        )
        stack.kill("worker")
        time.sleep(3)
        stack.start_worker()
        resumed = seconds_until_stored_grows(stack.world, postgres, "worker-between", RESUME_SECONDS)
        time.sleep(2)
    ledger = settle(traffic, postgres, redis_server)
    print(ledger.line("Celery worker kill -9 between drains", resumed_after_restart_s=round(resumed, 1)))
    assert not ledger.lost and not ledger.duplicated


def test_a_worker_killed_during_a_drain_resumes_within_10_s_of_its_restart(stack, postgres, redis_server):
    """A backlog of 40,000 answered predictions (as after an outage) is being drained when the worker
    dies; its drain lock, and the batches it had read, must not hold ingestion up."""
    prefix, count = "worker-during", 40_000
    buffer = RedisStreamBuffer(redis_server.url, prefix="modelyard:")  # production settings' stream
    records = backlog_records(prefix, count)
    for start in range(0, count, 1000):
        buffer.append(records[start : start + 1000])
    stack.start_worker()
    stack.start_beat()

    def stored() -> int:
        return sum(stack.world.stored(prefix, postgres).values())

    wait_for(lambda: stored() > 0, timeout=30, interval=0.05, what="the drain under way")
    assert drain_running(redis_server)
    stack.kill("worker")
    at_kill = stored()
    assert at_kill < count, "the drain finished before the worker could be killed in its middle"
    time.sleep(1)
    stack.start_worker()
    resumed = seconds_until_stored_grows(stack.world, postgres, prefix, RESUME_SECONDS)
    wait_for(lambda: stored() >= count, timeout=60, interval=0.5, what="the whole backlog stored")
    rows = stack.world.stored(prefix, postgres)
    print(
        f"[faults] Celery worker kill -9 during a drain: backlog {count}, stored at the kill {at_kill}, "
        f"resumed {resumed:.1f} s after the restarted worker was ready, stored {len(rows)}, "
        f"duplicated {sum(1 for n in rows.values() if n > 1)}"
    )
    assert len(rows) == count and set(rows.values()) == {1}
    wait_for(lambda: redis_server.client().xlen(STREAM) == 0, timeout=20, what="the stream empty")
