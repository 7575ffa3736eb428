"""Several writer processes (as gunicorn workers are) append 20,000 records while a reader
drains: every record ends up in the table exactly once."""

import multiprocessing
import random
import time

import pytest
from django.db import connections

from apps.serving.ingest import drain
from apps.serving.logbuffer import open_buffer
from apps.serving.models import Prediction
from tests.integration.serving_log.conftest import records

WRITERS = 4
PER_WRITER = 5000


def _write(writer: int) -> None:
    buffer = open_buffer()  # this process's own (its own spool segment, its own connection)
    rng = random.Random(writer)
    sent = 0
    while sent < PER_WRITER:
        size = min(rng.randint(1, 40), PER_WRITER - sent)  # one request's rows per append
        buffer.append(records(size, prefix=f"w{writer}", start=sent))
        sent += size


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_and_a_draining_reader_store_every_record_once():
    connections.close_all()  # forked writers must not share the reader's database connection
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_write, args=(n,)) for n in range(WRITERS)]
    for process in writers:
        process.start()
    reader = open_buffer()
    inserted = 0
    while any(p.is_alive() for p in writers):
        inserted += drain(reader, batch_size=2000, max_batches=5)
        time.sleep(0.05)
    assert all(p.exitcode == 0 for p in writers)
    deadline = time.monotonic() + 30  # the spool hands over the writers' last, quiet segments
    while reader.pending() and time.monotonic() < deadline:
        inserted += drain(reader, batch_size=2000, max_batches=None)
        time.sleep(0.2)

    total = WRITERS * PER_WRITER
    assert reader.pending() == 0
    assert inserted == total
    assert Prediction.objects.count() == total
    assert Prediction.objects.values("request_id").distinct().count() == total
    expected = {f"w{w}-{i}" for w in range(WRITERS) for i in range(PER_WRITER)}
    assert set(Prediction.objects.values_list("request_id", flat=True)) == expected
