"""The configured buffer (Redis stream or spool): what is appended is read until acknowledged,
and a read that is never acknowledged comes back, also after its reader died."""

import multiprocessing
import os
import time

import pytest

from apps.serving import logbuffer
from apps.serving.logbuffer import RedisStreamBuffer, SpoolBuffer, open_buffer
from tests.integration.serving_log.conftest import records


def test_append_read_ack(buffer):
    sent = records(10)
    buffer.append(sent[:4])
    buffer.append(sent[4:])
    assert buffer.pending() == 10
    token, got = buffer.read(100)
    assert got == sent
    assert buffer.pending() == 10  # read is not acknowledged yet
    buffer.ack(token)
    assert buffer.pending() == 0
    assert buffer.read(100) == ([], [])


def test_an_unacknowledged_read_comes_back_to_the_same_reader(buffer):
    buffer.append(records(5))
    _, first = buffer.read(100)
    token, again = buffer.read(100)
    assert again == first and len(first) == 5
    buffer.ack(token)
    assert buffer.pending() == 0


def test_reads_are_bounded_and_every_record_comes_once(buffer):
    for start in range(0, 3000, 100):
        buffer.append(records(100, start=start))
    seen = []
    while True:
        token, got = buffer.read(700)
        if not token:
            break
        if isinstance(buffer, RedisStreamBuffer):
            assert len(got) <= 700
        seen += [r["request_id"] for r in got]
        buffer.ack(token)
    assert sorted(seen) == sorted(f"req-{i}" for i in range(3000))


def _read_and_die(pipe):
    token, got = open_buffer().read(1000)
    pipe.send(len(got))
    os._exit(0)  # no ack: the process dies holding the read


def test_records_read_by_a_reader_that_died_are_delivered_again(buffer, monkeypatch):
    monkeypatch.setenv("MODELYARD_PREDICTION_LOG_VISIBILITY", "2")
    buffer.append(records(50))
    time.sleep(getattr(buffer, "segment_seconds", 0))  # the writer's quiet segment becomes readable
    context = multiprocessing.get_context("fork")
    parent_end, child_end = context.Pipe()
    child = context.Process(target=_read_and_die, args=(child_end,))
    started = time.monotonic()
    child.start()
    assert parent_end.poll(30) and parent_end.recv() == 50
    child.join(30)
    reader = open_buffer()
    if isinstance(reader, RedisStreamBuffer):
        early = reader.read(1000)[1]
        if time.monotonic() - started < 1.5:  # (a loaded machine may already be past the timeout)
            assert early == []  # a live or dead consumer's entries wait out the visibility timeout
        time.sleep(max(0.0, started + 2.2 - time.monotonic()))
    token, got = reader.read(1000)
    assert [r["request_id"] for r in got] == [f"req-{i}" for i in range(50)]
    reader.ack(token)
    assert reader.pending() == 0


# --- the spool's own guarantees ---------------------------------------------------------------

# (these run whichever buffer is configured: the spool needs nothing but a folder)


def test_a_torn_last_line_is_skipped_and_the_rest_read(tmp_path):
    buffer = SpoolBuffer(tmp_path / "own-spool")
    buffer.append(records(3))
    segment = buffer._segment
    with open(segment.path, "ab") as handle:  # what a writer killed mid-write leaves
        handle.write(b'{"request_id": "torn", "endpo')
    buffer._drop_segment()
    time.sleep(buffer.segment_seconds)
    token, got = buffer.read(100)
    assert [r["request_id"] for r in got] == ["req-0", "req-1", "req-2"]
    buffer.ack(token)
    assert os.listdir(buffer.open_dir) == [] and os.listdir(buffer.claimed_dir) == []
    buffer.close()


def test_a_writer_whose_segment_was_claimed_goes_on_in_a_new_one(tmp_path):
    writer = SpoolBuffer(tmp_path / "own-spool", segment_seconds=0.2)
    reader = SpoolBuffer(tmp_path / "own-spool", segment_seconds=0.2)
    writer.append(records(2))
    time.sleep(0.3)
    token, got = reader.read(100)  # the writer's quiet segment, claimed under its nose
    assert len(got) == 2
    writer.segment_seconds = 60  # it would otherwise rotate by age instead of noticing the claim
    writer.append(records(2, start=2))
    writer.close()
    reader.ack(token)
    time.sleep(0.3)
    token, got = reader.read(100)
    assert [r["request_id"] for r in got] == ["req-2", "req-3"]
    reader.ack(token)
    assert reader.pending() == 0


def test_a_full_segment_is_handed_over_and_claimed_once(tmp_path):
    writer = SpoolBuffer(tmp_path / "own-spool", segment_records=10)
    writer.append(records(10))
    writer.append(records(1, start=10))  # rotates the full segment into ready/
    assert len(os.listdir(writer.ready_dir)) == 1
    first, second = SpoolBuffer(tmp_path / "own-spool"), SpoolBuffer(tmp_path / "own-spool")
    token, got = first.read(100)
    assert len(got) == 10
    assert second.read(100) == ([], [])  # the other reader holds it; the new segment is too fresh
    first.close()  # as if its process died: the claim goes to the next reader
    token, got = second.read(100)
    assert len(got) == 10
    second.ack(token)
    writer.close()


def test_open_buffer_is_one_per_process_and_location(buffer):
    assert open_buffer() is buffer
    assert logbuffer.open_buffer().name in ("redis-stream", "spool")


def test_an_entry_that_is_not_json_is_skipped_not_stuck(buffer):
    if not isinstance(buffer, RedisStreamBuffer):
        pytest.skip("Redis stream only (REDIS_URL unset); the spool's case is the torn-line test")
    buffer.append(records(1))
    buffer._redis.xadd(buffer.key, {"r": b"{not json"})
    token, got = buffer.read(10)
    assert len(token) == 2 and [r["request_id"] for r in got] == ["req-0"]
    buffer.ack(token)
    assert buffer.pending() == 0
