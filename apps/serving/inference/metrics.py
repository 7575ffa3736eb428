"""Prometheus metrics of the inference service.

One gunicorn worker's counters are only part of the picture, so when ``PROMETHEUS_MULTIPROC_DIR``
is set (the ``inference`` command sets it to a fresh folder when it runs more than one worker)
every process writes its values to memory-mapped files there and ``/metrics`` on any worker adds
them all up (prometheus_client's multiprocess mode). Without it each process has its own registry.
The folder must be empty when the server starts and is not shared between servers.
"""

import logging
import os
import re
import resource
import threading

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)

log = logging.getLogger(__name__)

# Single-row scoring of small models takes about a millisecond; the fine steps are down there.
LATENCY_BUCKETS = (
    0.0005,
    0.00075,
    0.001,
    0.0015,
    0.002,
    0.003,
    0.004,
    0.005,
    0.0075,
    0.01,
    0.015,
    0.02,
    0.03,
    0.05,
    0.075,
    0.1,
    0.15,
    0.25,
    0.5,
    0.75,
    1.0,
)

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def multiprocess_dir() -> str:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


class Metrics:
    def __init__(self):
        self.multiprocess = bool(multiprocess_dir())
        if self.multiprocess and values.ValueClass.__name__ != "MmapedValue":
            # prometheus_client picks its value class when first imported; the folder may have been
            # set after that (the command sets it once Django is already up), so pick again.
            values.ValueClass = values.get_value_class()
        self.registry = CollectorRegistry()
        r = self.registry
        self.latency = Histogram(
            "inference_request_duration_seconds",
            "Server time of a scored request, from its first byte read to its answer.",
            ["endpoint", "version", "role"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.requests = Counter(
            "inference_requests",
            "Requests to an endpoint by HTTP status.",
            ["endpoint", "version", "status"],
            registry=r,
        )
        self.errors = Counter(
            "inference_errors",
            "Failures: model, load, log, request_id, shadow, shadow_dropped, bad_request.",
            ["endpoint", "kind"],
            registry=r,
        )
        self.rejected_fields = Counter(
            "inference_rejected_fields",
            "Fields of rejected records by problem (data-quality events).",
            ["endpoint", "field", "problem"],
            registry=r,
        )
        self.outside_range = Counter(
            "inference_outside_range_values",
            "Values outside the schema's min-max or categories that were accepted and scored "
            "(data-quality events): below_min, above_max, unknown_category.",
            ["endpoint", "field", "problem"],
            registry=r,
        )
        # In multiprocess mode "liveall" adds the pid label itself and drops dead workers' values.
        gauge_labels = [] if self.multiprocess else ["pid"]
        self.cpu_seconds = Gauge(
            "inference_process_cpu_seconds",
            "CPU time (user + system) of a worker process.",
            gauge_labels,
            multiprocess_mode="liveall",
            registry=r,
        )
        self.rss_bytes = Gauge(
            "inference_process_rss_bytes",
            "Resident memory of a worker process.",
            gauge_labels,
            multiprocess_mode="liveall",
            registry=r,
        )

    def exposition(self) -> tuple[bytes, str]:
        if self.multiprocess:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def sample_process(self) -> None:
        """Record this process's CPU time and resident memory now."""
        cpu, rss = process_usage()
        if self.multiprocess:
            self.cpu_seconds.set(cpu)
            self.rss_bytes.set(rss)
        else:
            pid = str(os.getpid())
            self.cpu_seconds.labels(pid).set(cpu)
            self.rss_bytes.labels(pid).set(rss)

    def start_sampling(self, every_seconds: float = 10.0) -> threading.Thread:
        """Sample now and then every ``every_seconds`` in a daemon thread of this process."""
        stop = threading.Event()

        def loop():
            while True:
                try:
                    self.sample_process()
                except Exception:
                    log.exception("could not sample the process's CPU and memory")
                if stop.wait(every_seconds):
                    return

        thread = threading.Thread(target=loop, name="resource-sampler", daemon=True)
        thread.stop = stop.set
        thread.start()
        return thread


def process_usage() -> tuple[float, int]:
    """(CPU seconds, user + system, since the process started; resident bytes now)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    rss = _current_rss() or usage.ru_maxrss * 1024  # the peak, where /proc is missing
    return usage.ru_utime + usage.ru_stime, rss


def _current_rss() -> int:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except (OSError, ValueError, IndexError):
        return 0


_RECORD_FIELD = re.compile(r"^records\[\d+\]\.(?P<field>.+?): (?P<message>.+)$")
_UNEXPECTED = re.compile(r"^(?:records\[\d+\]: )?unexpected fields")
_MISSING = re.compile(r"^(?:records\[\d+\]: )?missing feature (?P<field>.+)$")


def field_problem(error: str) -> tuple[str, str]:
    """(field, problem kind) of one of validate_records' messages, for metric labels. Field names
    the client invented (unexpected fields) are never used as labels: they would be unbounded."""
    missing = _MISSING.match(error)
    if missing:
        return missing["field"], "missing"
    if _UNEXPECTED.match(error):
        return "(unexpected)", "unexpected"
    match = _RECORD_FIELD.match(error)
    if not match:
        return "(record)", "not_an_object" if error.endswith("expected an object") else "other"
    message = match["message"]
    for needle, kind in (
        ("null", "null"),
        ("minimum", "below_min"),
        ("maximum", "above_max"),
        ("category", "unknown_category"),
        ("finite", "not_finite"),
        ("expected", "wrong_type"),
    ):
        if needle in message:
            return match["field"], kind
    return match["field"], "other"
