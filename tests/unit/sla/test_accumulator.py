"""The inference worker's per-minute accumulator: cells, flushing, a log that refuses records."""

import threading

from apps.serving.inference.sla import SlaAccumulator
from apps.sla import stats


class Clock:
    def __init__(self, now: float = 1_740_830_400.0):  # 2025-03-01 12:00:00 UTC, a whole minute
        self.now = now

    def __call__(self) -> float:
        return self.now


def accumulator(log, clock=None, usage=None) -> SlaAccumulator:
    return SlaAccumulator(
        log, clock=clock or Clock(), usage=usage or (lambda: (1.0, 100 << 20)), host="h", pid=7
    )


def test_counts_errors_and_latencies_per_endpoint_environment_version_and_minute():
    clock, logged = Clock(), []
    sla = accumulator(logged.extend, clock)
    for status in (200, 200, 422, 503, 500):
        sla.count("credit", "production", "1", status)
    sla.observe("credit", "production", 1, 0.004)
    sla.observe("credit", "production", 1, 0.012)
    sla.count("credit", "staging", "1", 200)
    sla.count("credit", "production", "", 400)  # before a version was chosen
    clock.now += 60
    sla.count("credit", "production", "2", 200)
    sla.count("(unknown)", None, "", 404)  # no such endpoint: only served
    assert sla.flush() == 5

    cells = {(r["environment"], r["version"], r["minute"]): r for r in logged if r["kind"] == "sla"}
    production = cells[("production", 1, 1_740_830_400)]
    assert (production["count"], production["errors"], production["client_errors"]) == (5, 2, 1)
    assert stats.from_sparse(production["buckets"])[stats.bucket_of(4.0)] == 1
    assert sum(production["buckets"].values()) == 2 and production["latency_sum_ms"] == 16.0
    assert production["histogram"] == stats.HISTOGRAM_ID
    assert cells[("production", 0, 1_740_830_400)]["client_errors"] == 1
    assert cells[("staging", 1, 1_740_830_400)]["count"] == 1
    assert cells[("production", 2, 1_740_830_460)]["count"] == 1
    assert len({r["id"] for r in logged}) == len(logged)  # every record its own id

    resource = [r for r in logged if r["kind"] == "resource"]
    assert len(resource) == 1 and resource[0]["requests"] == 9
    assert resource[0]["host"] == "h" and resource[0]["pid"] == 7 and resource[0]["cpu_percent"] is None


def test_a_flush_empties_the_cells_and_measures_cpu_over_the_interval():
    clock, logged, cpu = Clock(), [], [2.0]
    sla = accumulator(logged.extend, clock, usage=lambda: (cpu[0], 1 << 20))
    sla.count("credit", "production", "1", 200)
    sla.flush()
    clock.now += 10
    cpu[0] = 4.5
    sla.flush()
    second = logged[2:]
    assert [r["kind"] for r in second] == ["resource"]  # nothing new to report but the process
    assert second[0]["cpu_percent"] == 25.0 and second[0]["requests"] == 0


def test_records_the_log_refused_are_offered_again_with_the_same_ids():
    attempts = []

    def flaky(records):
        attempts.append(list(records))
        if len(attempts) == 1:
            raise ConnectionError("redis is down")

    sla = accumulator(flaky)
    sla.count("credit", "production", "1", 200)
    assert sla.flush() == 0
    sla.count("credit", "production", "1", 200)
    assert sla.flush() == 4  # the first flush's two records, then this one's two
    first_ids = [r["id"] for r in attempts[0]]
    assert [r["id"] for r in attempts[1][:2]] == first_ids
    assert sum(r["count"] for r in attempts[1] if r["kind"] == "sla") == 2


def test_the_thread_flushes_on_its_own_and_stop_flushes_the_rest():
    logged, flushed = [], threading.Event()

    def log(records):
        logged.extend(records)
        flushed.set()

    sla = accumulator(log).start(every_seconds=0.05)
    sla.count("credit", "production", "1", 200)
    assert flushed.wait(5)
    sla.count("credit", "production", "1", 200)
    sla.stop()
    assert sum(r["count"] for r in logged if r["kind"] == "sla") == 2


def test_counting_from_many_threads_loses_nothing():
    logged = []
    sla = accumulator(logged.extend)

    def serve():
        for _ in range(2000):
            sla.count("credit", "production", "1", 200)
            sla.observe("credit", "production", 1, 0.001)

    threads = [threading.Thread(target=serve) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sla.flush()
    (cell,) = [r for r in logged if r["kind"] == "sla"]
    assert cell["count"] == 16_000 and sum(cell["buckets"].values()) == 16_000
