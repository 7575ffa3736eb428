"""Impact: what a change did to a KPI. Before/after a version change (a deployment going live), two
explicit periods, or the two arms of a canary over the same period; the difference comes with its
interval (Newcombe for shares, Welch for means and totals, apps/kpis/stats.py) and, when a segment
field is given (``inputs.Home``), the same per segment value.

Rows are streamed, as in roll-ups. Segments beyond the ``MAX_SEGMENTS`` largest are pooled in
"other", so a numeric field does not explode into thousands of groups."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.deployments.models import Deployment
from apps.kpis import stats
from apps.kpis.compute import Tally, passes_segments, point_result, tally_row
from apps.kpis.definitions import check_fields
from apps.kpis.expressions import ExpressionError, label, parse
from apps.kpis.models import KpiDefinition
from apps.kpis.rollup import compile_kpi_of, scoped_predictions, stream_rows
from apps.kpis.services import model_fields

MAX_SEGMENTS = 20
DEFAULT_DAYS = 7


@dataclass(frozen=True)
class Period:
    label: str
    start: datetime
    end: datetime
    deployment_id: int | None = None  # a canary arm: only this deployment's predictions


def _segment_expression(kpi: KpiDefinition, segment: str | None):
    if not segment:
        return None
    try:
        expression = parse(segment)
    except ExpressionError as exc:
        raise ValidationError({"segment": str(exc)}) from None
    from apps.kpis.definitions import CompiledKpi

    features, has_scores = model_fields(kpi.model)
    errors = check_fields(
        CompiledKpi(kind=kpi.kind, segments=(expression,)), features=features, has_scores=has_scores
    )
    if errors:
        raise ValidationError({"segment": next(iter(errors.values()))})
    return expression


def periods_for_deployment(
    kpi: KpiDefinition, deployment: Deployment, days: int = DEFAULT_DAYS
) -> list[Period]:
    """The ``days`` before the deployment went live and the ``days`` after (to now at most)."""
    if deployment.live_at is None:
        raise ValidationError({"deployment": f"deployment {deployment.pk} never went live"})
    if deployment.endpoint.name != kpi.endpoint or deployment.endpoint.environment.name != kpi.environment:
        raise ValidationError(
            {"deployment": f"deployment {deployment.pk} is not on {kpi.endpoint} ({kpi.environment})"}
        )
    span = timedelta(days=days)
    live = deployment.live_at
    after_end = min(live + span, timezone.now())
    return [Period("before", live - span, live), Period("after", live, after_end)]


def periods_for_arms(primary: Deployment, canary: Deployment, start: datetime | None, end: datetime | None):
    """Both arms over the same period: by default from the canary going live to its end (or now)."""
    if canary.live_at is None:
        raise ValidationError({"arms": f"deployment {canary.pk} never went live"})
    start = start or canary.live_at
    end = end or canary.retired_at or timezone.now()
    return [Period("primary", start, end, primary.pk), Period("canary", start, end, canary.pk)]


def _tallies(kpi, compiled, period: Period, segment_expr):
    overall = Tally(kind=compiled.kind)
    by_segment: dict[str, Tally] = {}
    qs = scoped_predictions(kpi).filter(ts__gte=period.start, ts__lt=period.end)
    if period.deployment_id is not None:
        qs = qs.filter(deployment_id=period.deployment_id)
    for row, _ in stream_rows(kpi, qs, with_outcome=compiled.needs_outcome):
        if not passes_segments(compiled, row):
            continue
        tally_row(compiled, overall, row)
        if segment_expr is not None:
            key = str(label(segment_expr.evaluate(row)))
            tally_row(compiled, by_segment.setdefault(key, Tally(kind=compiled.kind)), row)
    return overall, by_segment


def _pooled(before: dict, after: dict, kind: str) -> dict[str, tuple]:
    keys = sorted(
        set(before) | set(after),
        key=lambda k: -(before.get(k, Tally(kind)).rows + after.get(k, Tally(kind)).rows),
    )
    kept, rest = keys[:MAX_SEGMENTS], keys[MAX_SEGMENTS:]
    out = {k: (before.get(k, Tally(kind)).accumulator, after.get(k, Tally(kind)).accumulator) for k in kept}
    if rest:
        b, a = (
            (stats.Counts(), stats.Counts())
            if kind in ("share", "rate_among")
            else (stats.Moments(), stats.Moments())
        )
        for k in rest:
            b = b.merge(before[k].accumulator) if k in before else b
            a = a.merge(after[k].accumulator) if k in after else a
        out["other"] = (b, a)
    return out


def _side(kpi, compiled, period: Period, tally: Tally) -> dict:
    result = point_result(compiled, tally, band_low=kpi.band_low, band_high=kpi.band_high)
    return {
        "label": period.label,
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "deployment": period.deployment_id,
        "value": result.value,
        "low": result.low,
        "high": result.high,
        "numerator": result.numerator,
        "denominator": result.denominator,
        "rows": tally.rows,
        "status": result.status,
        "message": result.message,
    }


def kpi_impact(
    *,
    kpi: KpiDefinition,
    deployment: Deployment | None = None,
    before: tuple[datetime, datetime] | None = None,
    after: tuple[datetime, datetime] | None = None,
    arms: tuple[Deployment, Deployment] | None = None,
    within: tuple[datetime | None, datetime | None] = (None, None),
    days: int = DEFAULT_DAYS,
    segment: str | None = None,
    confidence: float = stats.CONFIDENCE,
) -> dict:
    """Compare the KPI across a change. Give exactly one of ``deployment`` (before/after it went
    live, ``days`` each side), ``before`` and ``after`` (two ranges), or ``arms`` (primary, canary)
    optionally ``within`` a range. The difference is second minus first, with its interval."""
    given = [x is not None for x in (deployment, before or after, arms)]
    if sum(given) != 1:
        raise ValidationError(
            {"change": "give one of: a deployment, before and after ranges, or canary arms"}
        )
    if before or after:
        if not (before and after):
            raise ValidationError({"after" if before else "before": "both ranges are needed"})
        for name, (start, end) in (("before", before), ("after", after)):
            if start >= end:
                raise ValidationError({name: "the range ends before it starts"})
        periods = [Period("before", *before), Period("after", *after)]
        mode = "ranges"
    elif deployment is not None:
        periods, mode = periods_for_deployment(kpi, deployment, days), "deployment"
    else:
        periods, mode = periods_for_arms(arms[0], arms[1], *within), "canary"
    if not 0.5 < confidence < 1:
        raise ValidationError({"confidence": "must be between 0.5 and 1, e.g. 0.95"})
    compiled = compile_kpi_of(kpi)
    segment_expr = _segment_expression(kpi, segment)
    (first, first_segments), (second, second_segments) = (
        _tallies(kpi, compiled, p, segment_expr) for p in periods
    )
    diff = stats.difference(compiled.kind, first.accumulator, second.accumulator, confidence)
    segments = []
    if segment_expr is not None:
        segments = stats.segment_breakdown(
            compiled.kind, _pooled(first_segments, second_segments, compiled.kind), confidence
        )
    return {
        "kpi": kpi.pk,
        "kind": kpi.kind,
        "mode": mode,
        "deployment": deployment.pk if deployment is not None else None,
        "before": _side(kpi, compiled, periods[0], first),
        "after": _side(kpi, compiled, periods[1], second),
        "difference": diff.difference,
        "low": diff.low,
        "high": diff.high,
        "method": diff.method,
        "confidence": confidence,
        "segment": segment or None,
        "segments": segments,
    }
