"""Per-minute rollups turned into what a chart or the API shows: steps of a period with requests,
rates and percentiles per version and in total, and the error budget along the period.
Plain Python over plain rows (no Django), so it is tested without a database."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from apps.sla import stats

PERCENTILES = (50, 95, 99)


@dataclass
class Cell:
    """Requests of one step (or minute): what adds up."""

    count: int = 0
    errors: int = 0
    client_errors: int = 0
    latency_sum_ms: float = 0.0
    buckets: list = field(default_factory=stats.empty)

    def add(self, row) -> None:
        self.count += row.count
        self.errors += row.errors
        self.client_errors += row.client_errors
        self.latency_sum_ms += row.latency_sum_ms
        self.buckets = stats.merge(self.buckets, row.buckets)

    def point(self, start: datetime, step_seconds: int) -> dict:
        observed = sum(self.buckets)
        point = {
            "t": start.isoformat(),
            "count": self.count,
            "rps": round(self.count / step_seconds, 4),
            "errors": self.errors,
            "client_errors": self.client_errors,
            "error_rate": round(self.errors / self.count, 6) if self.count else None,
            "client_error_rate": round(self.client_errors / self.count, 6) if self.count else None,
            "mean_ms": round(self.latency_sum_ms / observed, 3) if observed else None,
        }
        for q in PERCENTILES:
            value = stats.percentile(self.buckets, q)
            point[f"p{q}"] = None if value is None else round(value, 3)
        return point


def step_starts(since: datetime, until: datetime, step_seconds: int) -> list[datetime]:
    """Starts of the steps covering [since, until), aligned to multiples of the step since the epoch
    (so the same minute always falls in the same step, whatever the period asked)."""
    epoch = since.timestamp()
    first = since - timedelta(seconds=epoch % step_seconds)
    starts, at = [], first
    while at < until:
        starts.append(at)
        at += timedelta(seconds=step_seconds)
    return starts


def build(rows, *, since: datetime, until: datetime, step_seconds: int) -> dict:
    """``rows``: objects with minute, version_number, count, errors, client_errors,
    latency_sum_ms and buckets. Returns {"steps": [...], "total": [points], "versions": {n: [points]}};
    every list has one point per step, steps without traffic included (count 0, percentiles None)."""
    starts = step_starts(since, until, step_seconds)
    index = {start: i for i, start in enumerate(starts)}
    first = starts[0] if starts else since
    total = [Cell() for _ in starts]
    versions: dict[int, list[Cell]] = {}
    for row in rows:
        i = index.get(
            first + timedelta(seconds=(row.minute - first).total_seconds() // step_seconds * step_seconds)
        )
        if i is None or not since <= row.minute < until:
            continue
        total[i].add(row)
        versions.setdefault(row.version_number, [Cell() for _ in starts])[i].add(row)
    return {
        "steps": starts,
        "total": [cell.point(start, step_seconds) for cell, start in zip(total, starts, strict=True)],
        "versions": {
            number: [cell.point(start, step_seconds) for cell, start in zip(cells, starts, strict=True)]
            for number, cells in sorted(versions.items())
        },
    }


def summarize(rows, *, availability_target: float, latency_ms: float, percentile: int) -> dict:
    """The period at a glance against the objectives: requests, availability and error budget, the
    objective's percentile over the whole period and the share of minutes that met it."""
    period = Cell()
    minutes: dict[datetime, Cell] = {}
    for row in rows:
        period.add(row)
        minutes.setdefault(row.minute, Cell()).add(row)
    budget = stats.error_budget(requests=period.count, errors=period.errors, target=availability_target)
    value = stats.percentile(period.buckets, percentile)
    per_minute = [stats.percentile(cell.buckets, percentile) for _, cell in sorted(minutes.items())]
    return {
        "requests": period.count,
        "errors": period.errors,
        "client_errors": period.client_errors,
        "availability": budget.availability,
        "availability_target": availability_target,
        "budget_used": budget.used,
        "budget_remaining": budget.remaining,
        "latency_percentile": percentile,
        "latency_ms": None if value is None else round(value, 3),
        "latency_target_ms": latency_ms,
        "latency_met": None if value is None else value <= latency_ms,
        "latency_compliance": stats.latency_compliance(per_minute, latency_ms),
        "availability_met": budget.met,
        "status": status_of(budget, value, latency_ms),
    }


def status_of(budget: stats.Budget, latency_value: float | None, latency_target: float) -> str:
    """ok / warn / bad / idle: bad once the error budget is spent; warn when the latency objective
    is missed or three quarters of the budget are gone."""
    if budget.used is None:
        return "idle"
    if budget.used > 1:
        return "bad"
    if (latency_value is not None and latency_value > latency_target) or budget.used > 0.75:
        return "warn"
    return "ok"


def budget_timeline(total_points: list[dict], availability_target: float) -> list[dict]:
    """Along the period: the error budget remaining so far (share of the budget that the requests
    up to then allowed) and each step's burn rate (its error rate over the allowed error rate)."""
    allowed = 1 - availability_target
    requests = errors = 0
    timeline = []
    for point in total_points:
        requests += point["count"]
        errors += point["errors"]
        timeline.append(
            {
                "t": point["t"],
                "remaining": None if not requests else round(1 - errors / requests / allowed, 6),
                "burn_rate": None
                if not point["count"]
                else round(point["errors"] / point["count"] / allowed, 6),
            }
        )
    return timeline


def auto_step(since: datetime, until: datetime, points: int = 120) -> int:
    """A step (seconds) from a short list, giving at most about ``points`` steps over the period."""
    seconds = (until - since).total_seconds()
    for step in (60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400):
        if seconds / step <= points:
            return step
    return 86400
