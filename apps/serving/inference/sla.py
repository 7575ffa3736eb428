"""Service-level counts kept in each inference worker and flushed to the prediction log.

Per (endpoint, environment, version, minute): requests, server errors (5xx), client errors (4xx)
and a latency histogram on fixed bounds (apps/sla/stats.py). A daemon thread hands the filled
cells to the log every few seconds as records of kind "sla", with one record of kind "resource"
(this process's CPU and memory) each time; ingestion adds them into per-minute rollups.

Every record has its own ``id``, so a record delivered twice is counted once. Records the log
refused are kept, with the same ids, and offered first at the next flush: sending again what may
have been stored already is harmless, sending new ids for it would not be.
No Django here: this runs on the request path.
"""

import logging
import os
import socket
import threading
import time
import uuid
import weakref
from collections.abc import Callable

from apps.serving.inference.metrics import process_usage
from apps.sla.stats import BUCKETS, HISTOGRAM_ID, bucket_of, to_sparse

log = logging.getLogger(__name__)

MAX_PENDING = 20_000  # records kept while the log is down; beyond that the oldest are dropped

_running: "weakref.WeakSet[SlaAccumulator]" = weakref.WeakSet()


class _Cell:
    __slots__ = ("count", "errors", "client_errors", "histogram", "latency_sum_ms")

    def __init__(self):
        self.count = self.errors = self.client_errors = 0
        self.histogram = [0] * BUCKETS
        self.latency_sum_ms = 0.0


class SlaAccumulator:
    def __init__(
        self,
        log_fn: Callable[[list[dict]], None],
        *,
        clock: Callable[[], float] = time.time,
        usage: Callable[[], tuple[float, int]] = process_usage,
        host: str | None = None,
        pid: int | None = None,
    ):
        self.log_fn = log_fn
        self.clock = clock
        self.usage = usage
        self.host = host or socket.gethostname()
        self.pid = pid or os.getpid()
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()  # one flush at a time: the thread's and the exit's
        self._cells: dict[tuple, _Cell] = {}
        self._requests = 0
        self._pending: list[dict] = []
        self._last_usage: tuple[float, float] | None = None  # (wall clock, CPU seconds)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- fed by the request path ------------------------------------------------------------------

    def _cell(self, endpoint: str, environment: str, version: int) -> _Cell:
        key = (endpoint, environment, version, int(self.clock() // 60) * 60)
        cell = self._cells.get(key)
        if cell is None:
            cell = self._cells[key] = _Cell()
        return cell

    def count(self, endpoint: str, environment: str | None, version, status: int) -> None:
        """One answered request. Without an environment (an endpoint that does not exist) it is
        only counted as served by this worker."""
        with self._lock:
            self._requests += 1
            if environment is None:
                return
            cell = self._cell(endpoint, environment, _version(version))
            cell.count += 1
            if status >= 500:
                cell.errors += 1
            elif status >= 400:
                cell.client_errors += 1

    def observe(self, endpoint: str, environment: str, version, seconds: float) -> None:
        ms = seconds * 1000.0
        with self._lock:
            cell = self._cell(endpoint, environment, _version(version))
            cell.histogram[bucket_of(ms)] += 1
            cell.latency_sum_ms += ms

    # --- flushing ---------------------------------------------------------------------------------

    def take(self) -> list[dict]:
        """The filled cells as log records plus this process's resource sample; cells are reset."""
        with self._lock:
            cells, self._cells = self._cells, {}
            requests, self._requests = self._requests, 0
        flush = uuid.uuid4().hex
        now = self.clock()
        records = [
            {
                "kind": "sla",
                "id": f"{flush}:{i}",
                "endpoint": endpoint,
                "environment": environment,
                "version": version,
                "minute": minute,
                "count": cell.count,
                "errors": cell.errors,
                "client_errors": cell.client_errors,
                "latency_sum_ms": round(cell.latency_sum_ms, 3),
                "buckets": to_sparse(cell.histogram),
                "histogram": HISTOGRAM_ID,
            }
            for i, ((endpoint, environment, version, minute), cell) in enumerate(sorted(cells.items()))
        ]
        records.append(self._resource_record(flush, now, requests))
        return records

    def _resource_record(self, flush: str, now: float, requests: int) -> dict:
        cpu_seconds, rss_bytes = self.usage()
        cpu_percent = None
        if self._last_usage is not None and now > self._last_usage[0]:
            cpu_percent = round(100.0 * (cpu_seconds - self._last_usage[1]) / (now - self._last_usage[0]), 2)
        self._last_usage = (now, cpu_seconds)
        return {
            "kind": "resource",
            "id": f"{flush}:resource",
            "host": self.host,
            "pid": self.pid,
            "ts": now,
            "cpu_seconds": round(cpu_seconds, 3),
            "cpu_percent": cpu_percent,
            "rss_bytes": rss_bytes,
            "requests": requests,
        }

    def flush(self) -> int:
        """Append pending and new records to the log; the number appended (0 if it refused)."""
        with self._flush_lock:
            records = self._pending + self.take()
            try:
                self.log_fn(records)
            except Exception:
                log.exception(
                    "could not log %d service-level records; keeping them for the next flush", len(records)
                )
                if len(records) > MAX_PENDING:
                    log.error(
                        "dropping %d service-level records: the log is down too long",
                        len(records) - MAX_PENDING,
                    )
                self._pending = records[-MAX_PENDING:]
                return 0
            self._pending = []
            return len(records)

    def start(self, every_seconds: float = 5.0) -> "SlaAccumulator":
        """Flush every ``every_seconds`` in a daemon thread of this process, and at ``stop()``."""

        def loop():
            while not self._stop.wait(every_seconds):
                try:
                    self.flush()
                except Exception:
                    log.exception("the service-level flush failed")

        self._thread = threading.Thread(target=loop, name="sla-flush", daemon=True)
        self._thread.start()
        _running.add(self)
        return self

    def stop(self) -> None:
        """Stop the thread and flush what is left (a worker calls this as it exits)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        _running.discard(self)
        self.flush()


def stop_all() -> None:
    """Flush and stop every accumulator of this process: gunicorn's worker_exit hook."""
    for accumulator in list(_running):
        try:
            accumulator.stop()
        except Exception:
            log.exception("could not flush service-level records at exit")


def _version(version) -> int:
    """Version numbers arrive as text from the request path; "" (no version chosen yet) is 0."""
    try:
        return int(version or 0)
    except (TypeError, ValueError):
        return 0
