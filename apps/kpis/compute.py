"""Folding logged predictions into a KPI, one row at a time (no Django): a ``Tally`` per window (or
per period and segment, for impact) and the point a tally becomes, with its status and message."""

from dataclasses import dataclass, field

from apps.kpis import stats
from apps.kpis.definitions import CompiledKpi
from apps.kpis.expressions import Row


@dataclass
class Tally:
    """What one window's predictions add up to, plus the counts the KPI's message explains."""

    kind: str
    rows: int = 0  # predictions that passed the segment filters
    labelled: int = 0  # of those, with an outcome
    waiting: int = 0  # left out: the KPI needs their outcome, which has not arrived
    outside_subset: int = 0  # rate_among: not in the subset
    unvalued: int = 0  # mean/sum: no value could be computed
    accumulator: stats.Counts | stats.Moments = field(default=None)  # type: ignore[assignment]

    def __post_init__(self):
        if self.accumulator is None:
            self.accumulator = stats.Counts() if self.kind in ("share", "rate_among") else stats.Moments()


def passes_segments(kpi: CompiledKpi, row: Row) -> bool:
    return all(s.is_true(row) for s in kpi.segments)


def tally_row(kpi: CompiledKpi, tally: Tally, row: Row) -> None:
    """Count one prediction that passed the segment filters."""
    tally.rows += 1
    tally.labelled += row.has_outcome
    if kpi.needs_outcome and not row.has_outcome:
        tally.waiting += 1
        return
    if kpi.kind == "share":
        tally.accumulator.add(kpi.condition.is_true(row))
    elif kpi.kind == "rate_among":
        if kpi.among.is_true(row):
            tally.accumulator.add(kpi.condition.is_true(row))
        else:
            tally.outside_subset += 1
    else:
        value = kpi.value_of(row)
        if value is None:
            tally.unvalued += 1
        else:
            tally.accumulator.add(value)


@dataclass(frozen=True)
class PointResult:
    value: float | None
    numerator: float | None
    denominator: float | None
    low: float | None
    high: float | None
    status: str  # ok, out_of_band, insufficient, error
    message: str


def _notes(kpi: CompiledKpi, tally: Tally) -> list[str]:
    notes = []
    if tally.waiting:
        notes.append(
            f"{tally.waiting} of {tally.rows} predictions still wait for an outcome and are not counted"
        )
    if tally.unvalued:
        what = kpi.value.text if kpi.value is not None else "by_outcome"
        notes.append(
            f"{tally.unvalued} predictions had no value for {what} (a field missing or not a number)"
        )
    return notes


def in_band(value: float, low: float | None, high: float | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


def point_result(
    kpi: CompiledKpi, tally: Tally, *, band_low: float | None = None, band_high: float | None = None
) -> PointResult:
    """The window's value, interval and status. Nothing to divide by is "insufficient" with the
    reason, never an exception."""
    notes = _notes(kpi, tally)
    estimate = stats.estimate(kpi.kind, tally.accumulator)
    base = {"numerator": estimate.numerator, "denominator": estimate.denominator}
    if tally.rows == 0:
        reason = "no predictions in this window" + (" match the segment filters" if kpi.segments else "")
        return PointResult(None, None, 0, None, None, "insufficient", reason)
    if kpi.kind in ("mean", "sum") and tally.accumulator.n == 0 and tally.unvalued:
        return PointResult(None, **base, low=None, high=None, status="error", message="; ".join(notes))
    if estimate.value is None or (kpi.kind == "sum" and tally.accumulator.n == 0):
        if kpi.kind == "rate_among" and tally.outside_subset:
            reason = f"no prediction in this window meets {kpi.among.text}: the rate among them is undefined"
        elif tally.waiting:
            reason = "no outcome has arrived yet for this window's predictions"
        else:
            reason = "nothing to count in this window"
        return PointResult(
            None, **base, low=None, high=None, status="insufficient", message="; ".join([reason, *notes])
        )
    status = "ok" if in_band(estimate.value, band_low, band_high) else "out_of_band"
    return PointResult(
        estimate.value, **base, low=estimate.low, high=estimate.high, status=status, message="; ".join(notes)
    )
