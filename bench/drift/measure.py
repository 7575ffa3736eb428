"""Time and extra peak memory of one piece of work inside a child process (standard library only: the
Evidently child imports it from its own environment).

The baseline is the resident set once the inputs are loaded. Writing "5" to /proc/self/clear_refs
resets the kernel's high-water mark (VmHWM) to the current resident set, so the peak read afterwards
belongs to the work alone, not to the Parquet decoding before it. Where that file cannot be written,
a thread samples VmRSS every 2 ms instead (it can miss a short spike)."""

from __future__ import annotations

import gc
import json
import os
import threading
import time
from contextlib import contextmanager

MIB = 1024 * 1024


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} missing from /proc/self/status")


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


class Measurement:
    seconds: float = 0.0
    extra_mib: float = 0.0
    baseline_mib: float = 0.0
    method: str = ""

    def as_dict(self) -> dict:
        return {
            "seconds": self.seconds,
            "extra_mib": self.extra_mib,
            "baseline_mib": self.baseline_mib,
            "memory_method": self.method,
        }


@contextmanager
def measured():
    """Yield a Measurement filled in when the block ends."""
    gc.collect()
    result = Measurement()
    baseline = _status_kib("VmRSS")
    sampled = [baseline]
    stop = threading.Event()
    sampler = None
    if _reset_peak():
        result.method = "VmHWM after clear_refs"
    else:
        result.method = "VmRSS sampled every 2 ms"

        def sample() -> None:
            while not stop.wait(0.002):
                sampled.append(_status_kib("VmRSS"))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
    started = time.perf_counter()
    try:
        yield result
    finally:
        result.seconds = time.perf_counter() - started
        if sampler is not None:
            stop.set()
            sampler.join()
            peak = max(sampled)
        else:
            peak = _status_kib("VmHWM")
        result.baseline_mib = baseline / 1024
        result.extra_mib = max(0, peak - baseline) / 1024


def report(payload: dict) -> None:
    """The child's answer to the parent: one JSON line, last on stdout."""
    print("RESULT " + json.dumps(payload), flush=True)


def machine() -> dict:
    with open("/proc/meminfo") as meminfo:
        total_kib = int(next(line for line in meminfo if line.startswith("MemTotal:")).split()[1])
    model = ""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            names = (line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
            model = next(names, "")
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "ram_gib": total_kib / 1024 / 1024,
        "load": os.getloadavg(),
    }
