"""Latency histograms on fixed, log-spaced bounds; percentiles read from them; error budgets.

Plain Python without Django: the inference service fills the histograms (apps/serving/inference/
sla.py), ingestion adds them up per minute, and the pages and API read percentiles from the sums.
A histogram is a list of ``BUCKETS`` counts; bucket ``i`` holds latencies in
``(BOUNDS_MS[i-1], BOUNDS_MS[i]]`` (the first from 0, the last one everything above 10 s).
"""

import bisect
from dataclasses import dataclass

# 46 steps from 0.25 ms to 10 s: ten per decade, each bound 25.9 % above the one before, so a
# percentile read from the histogram is within one bucket (about a quarter) of the exact value.
_STEPS = 46
BOUNDS_MS: tuple[float, ...] = tuple(0.25 * 40_000 ** (i / _STEPS) for i in range(_STEPS)) + (10_000.0,)
BUCKETS = len(BOUNDS_MS) + 1
BUCKET_RATIO = BOUNDS_MS[1] / BOUNDS_MS[0]
# Named in every record, so that a rollup never adds histograms of different bounds.
HISTOGRAM_ID = "log10x10-0.25ms-10s"


def bucket_of(ms: float) -> int:
    """The bucket a latency (milliseconds) falls in."""
    return bisect.bisect_left(BOUNDS_MS, ms)


def empty() -> list[int]:
    return [0] * BUCKETS


def merge(*histograms) -> list[int]:
    """Bucket-wise sum of dense histograms (lists of BUCKETS counts)."""
    total = empty()
    for histogram in histograms:
        if len(histogram) != BUCKETS:
            raise ValueError(f"a histogram has {BUCKETS} buckets, not {len(histogram)}")
        for i, n in enumerate(histogram):
            total[i] += n
    return total


def to_sparse(histogram) -> dict[str, int]:
    """{bucket index: count} of the non-empty buckets: what a log record carries."""
    return {str(i): n for i, n in enumerate(histogram) if n}


def from_sparse(buckets: dict) -> list[int]:
    dense = empty()
    for key, n in buckets.items():
        i, n = int(key), int(n)
        if not 0 <= i < BUCKETS or n < 0:
            raise ValueError(f"bucket {key}: {n} is outside the histogram")
        dense[i] += n
    return dense


def percentile(histogram, q: float) -> float | None:
    """The q-th percentile (0–100) in milliseconds, interpolated linearly inside its bucket;
    None without observations. Above the last bound the answer is that bound (at least 10 s)."""
    if not 0 <= q <= 100:
        raise ValueError(f"a percentile is between 0 and 100, not {q}")
    total = sum(histogram)
    if total == 0:
        return None
    rank = q / 100 * total
    seen = 0
    for i, n in enumerate(histogram):
        if n and seen + n >= rank:
            if i == len(BOUNDS_MS):
                return BOUNDS_MS[-1]
            lower = BOUNDS_MS[i - 1] if i else 0.0
            return lower + (BOUNDS_MS[i] - lower) * (rank - seen) / n
        seen += n
    return BOUNDS_MS[-1]  # pragma: no cover - rank never exceeds the total


@dataclass(frozen=True)
class Budget:
    """An availability objective over a period. ``used`` is the share of the error budget spent:
    (1 − availability) / (1 − target); 1.0 means exactly on target, above 1 the objective is
    missed. Only server errors (5xx) count: a client's bad request is not the service failing."""

    requests: int
    errors: int
    target: float  # availability as a fraction, e.g. 0.995
    availability: float | None
    used: float | None

    @property
    def remaining(self) -> float | None:
        return None if self.used is None else 1.0 - self.used

    @property
    def met(self) -> bool | None:
        return None if self.availability is None else self.availability >= self.target


def error_budget(*, requests: int, errors: int, target: float) -> Budget:
    if not 0 < target < 1:
        raise ValueError(f"an availability target is between 0 and 1 (exclusive), not {target}")
    if requests < 0 or not 0 <= errors <= max(requests, 0):
        raise ValueError(f"{errors} errors out of {requests} requests is impossible")
    if requests == 0:
        return Budget(0, 0, target, None, None)
    availability = 1 - errors / requests
    return Budget(requests, errors, target, availability, (1 - availability) / (1 - target))


def latency_compliance(values_ms, target_ms: float) -> float | None:
    """Share of intervals (minutes, with traffic) whose percentile met the target; None if none
    had traffic. Intervals without traffic (None) neither meet nor miss it."""
    measured = [v for v in values_ms if v is not None]
    if not measured:
        return None
    return sum(v <= target_ms for v in measured) / len(measured)
