"""The drain lease on the configured buffer: one drain at a time, renewed while it runs, free within
seconds once its holder is killed, and its next holder takes over what a killed drain had read
(tests/faults/test_celery_worker.py kills a real worker in the middle of a drain)."""

import multiprocessing
import os
import signal
import time

from apps.serving.logbuffer import RedisStreamBuffer, open_buffer
from tests.integration.serving_log.conftest import records


def _hold_until_killed(pipe, seconds: float) -> None:
    with open_buffer().drain_lease(seconds) as held:
        pipe.send(held)
        time.sleep(120)


def _read_and_die(pipe) -> None:
    _, got = open_buffer().read(1000)
    pipe.send(len(got))
    os._exit(0)  # no ack: the process dies holding the read


def _in_child(target, *args):
    context = multiprocessing.get_context("fork")
    parent_end, child_end = context.Pipe()
    child = context.Process(target=target, args=(child_end, *args))
    child.start()
    assert parent_end.poll(30)
    return child, parent_end.recv()


def test_a_lease_held_by_a_killed_drain_is_free_within_its_seconds(buffer):
    seconds = 1.5
    child, held = _in_child(_hold_until_killed, seconds)
    try:
        assert held
        time.sleep(seconds + 0.5)  # renewed meanwhile: still held past its seconds
        with buffer.drain_lease(seconds) as mine:
            assert not mine
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.join(10)
    killed = time.monotonic()
    while True:
        with buffer.drain_lease(seconds) as mine:
            if mine:
                break
        assert time.monotonic() - killed < seconds + 1.0, "the killed drain's lease outlived it"
        time.sleep(0.05)


def test_one_holder_at_a_time_and_free_again_after_release(buffer):
    with buffer.drain_lease(1.0) as held:
        assert held
        with buffer.sibling().drain_lease(1.0) as other:
            assert not other
    with buffer.sibling().drain_lease(1.0) as other:
        assert other


def test_the_next_holder_reads_at_once_what_a_killed_drain_had_read(buffer):
    buffer.append(records(30))
    time.sleep(getattr(buffer, "segment_seconds", 0))  # the writer's quiet segment becomes readable
    child, count = _in_child(_read_and_die)
    child.join(10)
    assert count == 30
    started = time.monotonic()
    with buffer.drain_lease() as held:
        assert held
        token, got = buffer.read(1000)
    if isinstance(buffer, RedisStreamBuffer):
        assert time.monotonic() - started < 5  # not after the 60 s visibility timeout
    assert sorted(r["request_id"] for r in got) == sorted(f"req-{i}" for i in range(30))
    buffer.ack(token)
    assert buffer.pending() == 0
