"""The statistics of business KPIs, without Django: estimates with intervals for one window, and
differences between two periods or canary arms for impact.

    share / rate among a subset   Wilson score interval (good coverage near 0 and 1, never outside [0, 1])
    mean of a value               Student t interval
    sum of a value                the total's t interval: n·mean ± t·√n·s (rows as draws from the process)
    difference of two shares      Newcombe's hybrid score interval (his method 10) from the two Wilson ones
    difference of two means/sums  Welch: unequal variances, Welch–Satterthwaite degrees of freedom

Counts and moments are accumulated row by row (``Counts``, ``Moments``: mergeable, constant memory),
so a roll-up never holds a window's rows."""

import math
from dataclasses import asdict, dataclass, field

from scipy import stats as sps

CONFIDENCE = 0.95


def _z(confidence: float) -> float:
    return float(sps.norm.ppf(0.5 + confidence / 2))


def _t(confidence: float, df: float) -> float:
    return float(sps.t.ppf(0.5 + confidence / 2, df))


@dataclass
class Counts:
    """Rows counted and rows meeting the condition."""

    n: int = 0
    hits: int = 0

    def add(self, hit: bool) -> None:
        self.n += 1
        self.hits += bool(hit)

    def merge(self, other: "Counts") -> "Counts":
        return Counts(self.n + other.n, self.hits + other.hits)


@dataclass
class Moments:
    """Count, mean and sum of squared deviations (Welford), mergeable (Chan et al.)."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def add(self, x: float) -> None:
        self.n += 1
        delta = x - self.mean
        self.mean += delta / self.n
        self.m2 += delta * (x - self.mean)

    def merge(self, other: "Moments") -> "Moments":
        if other.n == 0:
            return Moments(self.n, self.mean, self.m2)
        if self.n == 0:
            return Moments(other.n, other.mean, other.m2)
        n = self.n + other.n
        delta = other.mean - self.mean
        return Moments(
            n, self.mean + delta * other.n / n, self.m2 + other.m2 + delta**2 * self.n * other.n / n
        )

    @property
    def total(self) -> float:
        return self.mean * self.n

    @property
    def variance(self) -> float | None:
        """The sample variance (n − 1), None below two values."""
        return self.m2 / (self.n - 1) if self.n > 1 else None


@dataclass(frozen=True)
class Estimate:
    """A KPI value with its interval. ``value`` is None when there is nothing to divide by."""

    value: float | None
    low: float | None
    high: float | None
    numerator: float | None
    denominator: float
    method: str
    confidence: float = CONFIDENCE

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Difference:
    """``after − before`` with its interval."""

    before: Estimate
    after: Estimate
    difference: float | None
    low: float | None
    high: float | None
    method: str
    confidence: float = CONFIDENCE
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "before": self.before.to_dict(),
            "after": self.after.to_dict(),
            "difference": self.difference,
            "low": self.low,
            "high": self.high,
            "method": self.method,
            "confidence": self.confidence,
            **self.extra,
        }


def wilson_interval(hits: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    if n <= 0:
        raise ValueError("the Wilson interval needs at least one row")
    z = _z(confidence)
    p = hits / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def share_estimate(counts: Counts, confidence: float = CONFIDENCE) -> Estimate:
    """The share of counted rows meeting the condition (also the rate among a subset, whose rows are
    the only ones counted). With no rows the value is None: there is nothing to divide by."""
    if counts.n == 0:
        return Estimate(None, None, None, 0, 0, "wilson", confidence)
    low, high = wilson_interval(counts.hits, counts.n, confidence)
    return Estimate(counts.hits / counts.n, low, high, counts.hits, counts.n, "wilson", confidence)


def mean_estimate(moments: Moments, confidence: float = CONFIDENCE) -> Estimate:
    """The mean with a Student t interval (no interval below two values)."""
    if moments.n == 0:
        return Estimate(None, None, None, None, 0, "t", confidence)
    if moments.n == 1:
        return Estimate(moments.mean, None, None, moments.total, 1, "t", confidence)
    half = _t(confidence, moments.n - 1) * math.sqrt(moments.variance / moments.n)
    return Estimate(
        moments.mean, moments.mean - half, moments.mean + half, moments.total, moments.n, "t", confidence
    )


def sum_estimate(moments: Moments, confidence: float = CONFIDENCE) -> Estimate:
    """The total with the interval of n·mean: ± t·√n·s. It treats the window's rows as draws from
    the process the business runs, so it answers "what total could such a window have had"."""
    if moments.n == 0:
        return Estimate(0.0, None, None, 0.0, 0, "t", confidence)
    if moments.n == 1:
        return Estimate(moments.total, None, None, moments.total, 1, "t", confidence)
    half = _t(confidence, moments.n - 1) * math.sqrt(moments.n * moments.variance)
    return Estimate(
        moments.total, moments.total - half, moments.total + half, moments.total, moments.n, "t", confidence
    )


def share_difference(before: Counts, after: Counts, confidence: float = CONFIDENCE) -> Difference:
    """after − before of two independent shares, Newcombe's hybrid score interval."""
    b, a = share_estimate(before, confidence), share_estimate(after, confidence)
    if b.value is None or a.value is None:
        return Difference(b, a, None, None, None, "newcombe", confidence)
    d = a.value - b.value
    low = d - math.sqrt((a.value - a.low) ** 2 + (b.high - b.value) ** 2)
    high = d + math.sqrt((a.high - a.value) ** 2 + (b.value - b.low) ** 2)
    return Difference(b, a, d, low, high, "newcombe", confidence)


def _welch(var_a: float, var_b: float, n_a: int, n_b: int) -> tuple[float, float]:
    """(standard error, Welch–Satterthwaite df) for terms ``var_x`` that estimate each side's variance."""
    se2 = var_a + var_b
    if se2 == 0:
        return 0.0, float(n_a + n_b - 2)
    df = se2**2 / (var_a**2 / (n_a - 1) + var_b**2 / (n_b - 1))
    return math.sqrt(se2), df


def mean_difference(before: Moments, after: Moments, confidence: float = CONFIDENCE) -> Difference:
    """after − before of two means, Welch's t interval (both sides need two values or more)."""
    b, a = mean_estimate(before, confidence), mean_estimate(after, confidence)
    if before.n < 2 or after.n < 2:
        d = None if a.value is None or b.value is None else a.value - b.value
        return Difference(b, a, d, None, None, "welch", confidence)
    se, df = _welch(after.variance / after.n, before.variance / before.n, after.n, before.n)
    d = after.mean - before.mean
    half = _t(confidence, df) * se
    return Difference(b, a, d, d - half, d + half, "welch", confidence, {"df": df, "se": se})


def sum_difference(before: Moments, after: Moments, confidence: float = CONFIDENCE) -> Difference:
    """after − before of two totals (each n·mean, variance n·s²), Welch–Satterthwaite df. Compare
    periods of the same length: a total grows with the traffic as well as with the model."""
    b, a = sum_estimate(before, confidence), sum_estimate(after, confidence)
    d = a.value - b.value
    if before.n < 2 or after.n < 2:
        return Difference(b, a, d, None, None, "welch-total", confidence)
    se, df = _welch(after.n * after.variance, before.n * before.variance, after.n, before.n)
    half = _t(confidence, df) * se
    return Difference(b, a, d, d - half, d + half, "welch-total", confidence, {"df": df, "se": se})


ESTIMATORS = {
    "share": share_estimate,
    "rate_among": share_estimate,
    "mean": mean_estimate,
    "sum": sum_estimate,
}
DIFFERENCES = {
    "share": share_difference,
    "rate_among": share_difference,
    "mean": mean_difference,
    "sum": sum_difference,
}


def estimate(kind: str, accumulator: Counts | Moments, confidence: float = CONFIDENCE) -> Estimate:
    return ESTIMATORS[kind](accumulator, confidence)


def difference(kind: str, before, after, confidence: float = CONFIDENCE) -> Difference:
    return DIFFERENCES[kind](before, after, confidence)


def segment_breakdown(
    kind: str, segments: dict[str, tuple[Counts | Moments, Counts | Moments]], confidence: float = CONFIDENCE
) -> list[dict]:
    """Per segment value: before, after and the difference with its interval, largest rows first.
    Intervals here are per segment (not corrected for looking at many): a guide to where to look."""
    rows = []
    for key, (before, after) in segments.items():
        diff = difference(kind, before, after, confidence)
        rows.append({"segment": key, "rows_before": before.n, "rows_after": after.n, **diff.to_dict()})
    return sorted(rows, key=lambda r: (-(r["rows_before"] + r["rows_after"]), str(r["segment"])))
