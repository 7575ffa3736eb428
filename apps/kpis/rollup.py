"""KPI roll-ups: from the prediction log and its outcomes to one KpiPoint per day or week.

Each KPI keeps two watermarks: the last prediction id and the last outcome id it has looked at.
A roll-up finds the windows touched by predictions or outcomes beyond them (an outcome touches the
window of the prediction it belongs to: late outcomes revise earlier points) and recomputes those
windows whole, from the source rows, so running it twice changes nothing (idempotent).

Rows are streamed in chunks and folded into counts or moments (apps/kpis/compute.py), so memory
stays bounded however busy a window is. A definition that cannot be computed, or a window with
nothing to divide by, is recorded on the KPI or the point with the reason: never a crash.

Like monitoring's cursors, a watermark only passes rows received ``settle`` seconds ago: a row whose
transaction commits late, with a smaller id, is still found next time. Rows newer than that are
rolled up now too, and again next time (harmless: windows are recomputed whole).

A KPI reads only what its own model's deployments logged on its endpoint (``own_deployments``),
whatever endpoint its definition names: the roll-up, the impact and the page all start from
``scoped_predictions``, so no definition reads another team's predictions or outcomes."""

import logging
import os
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.db.models import Exists, F, JSONField, Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Trunc
from django.utils import timezone

from apps.deployments.models import Deployment
from apps.kpis.compute import Tally, passes_segments, point_result, tally_row
from apps.kpis.definitions import CompiledKpi, DefinitionError
from apps.kpis.expressions import Row
from apps.kpis.models import KpiDefinition, KpiPoint
from apps.serving.models import Outcome, Prediction
from apps.serving.selectors import outcome_of_prediction

log = logging.getLogger(__name__)

CHUNK = 2000
ANSWERING_ROLES = (Prediction.Role.PRIMARY, Prediction.Role.CANARY)  # shadows never answer anyone
OUTCOME_REVISION_OVERLAP = timedelta(minutes=1)


def settle_seconds() -> float:
    return float(os.environ.get("MODELYARD_KPI_SETTLE_SECONDS", "10"))


def window_bounds(kpi: KpiDefinition, moment: datetime) -> tuple[datetime, datetime]:
    """The window ``[start, end)`` holding ``moment``: a UTC day, or a week from Monday 00:00 UTC."""
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if kpi.window == KpiDefinition.Window.WEEK:
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=7)
    return day, day + timedelta(days=1)


def own_deployments(kpi: KpiDefinition) -> QuerySet:
    """The deployments whose predictions a KPI may count: its own model's, on its endpoint and
    environment, owned by the model's team. A definition naming another team's endpoint (stored
    before the service checked, or edited behind its back) reads nothing of it."""
    return Deployment.objects.filter(
        version__model_id=kpi.model_id,
        endpoint__name=kpi.endpoint,
        endpoint__environment__name=kpi.environment,
        endpoint__team_id=F("version__model__team_id"),
    )


def scoped_predictions(kpi: KpiDefinition) -> QuerySet:
    """The predictions a KPI counts: its own deployments' (see own_deployments) on its endpoint
    and environment, the chosen ones or else every primary and canary (not shadows, not batch jobs)."""
    qs = Prediction.objects.filter(
        endpoint=kpi.endpoint,
        environment=kpi.environment,
        batch=False,
        deployment_id__in=own_deployments(kpi).values("pk"),
    )
    if kpi.deployment_ids:
        return qs.filter(deployment_id__in=kpi.deployment_ids)
    return qs.filter(role__in=ANSWERING_ROLES)


def _score(probabilities) -> float | None:
    """P(positive) for a binary classifier (the second class, scikit-learn's order), else the top one."""
    if not isinstance(probabilities, list | tuple) or not probabilities:
        return None
    if any(not isinstance(p, int | float) for p in probabilities):
        return None
    return float(probabilities[1] if len(probabilities) == 2 else max(probabilities))


def stream_rows(kpi: KpiDefinition, qs: QuerySet, *, with_outcome: bool) -> Iterator[tuple[Row, dict]]:
    """(Row, {ts, deployment_id, role}) for every prediction of ``qs``, read in chunks."""
    fields = ["inputs", "prediction", "probabilities", "ts", "deployment_id", "role"]
    if with_outcome:
        matches = outcome_of_prediction()
        qs = qs.annotate(
            outcome=Subquery(matches.values("value")[:1], output_field=JSONField()),
            has_outcome=Exists(matches),
        )
        fields += ["outcome", "has_outcome"]
    for values in qs.values_list(*fields).iterator(chunk_size=CHUNK):
        inputs, prediction, probabilities, ts, deployment_id, role = values[:6]
        outcome, has_outcome = values[6:] if with_outcome else (None, False)
        row = Row(
            inputs=inputs if isinstance(inputs, dict) else {},
            prediction=prediction,
            score=_score(probabilities),
            outcome=outcome,
            has_outcome=bool(has_outcome),
        )
        yield row, {"ts": ts, "deployment_id": deployment_id, "role": role}


def tally_window(kpi: KpiDefinition, compiled: CompiledKpi, start: datetime, end: datetime) -> Tally:
    tally = Tally(kind=compiled.kind)
    qs = scoped_predictions(kpi).filter(ts__gte=start, ts__lt=end)
    # The outcome join is paid for only by KPIs that read outcomes (it also counts labelled rows).
    for row, _ in stream_rows(kpi, qs, with_outcome=compiled.needs_outcome):
        if passes_segments(compiled, row):
            tally_row(compiled, tally, row)
    return tally


def _same(point: KpiPoint, values: dict) -> bool:
    keys = ("value", "numerator", "denominator", "n", "labelled", "interval_low", "interval_high", "status")
    return all(getattr(point, k) == values[k] for k in keys) and point.message == values["message"]


def point_recompute(kpi: KpiDefinition, compiled: CompiledKpi, start: datetime) -> KpiPoint:
    """Recompute one window from the source rows and store it; a changed value counts a revision."""
    start, end = window_bounds(kpi, start)
    tally = tally_window(kpi, compiled, start, end)
    result = point_result(compiled, tally, band_low=kpi.band_low, band_high=kpi.band_high)
    values = {
        "end": end,
        "value": result.value,
        "numerator": result.numerator,
        "denominator": result.denominator,
        "n": tally.rows,
        "labelled": tally.labelled,
        "interval_low": result.low,
        "interval_high": result.high,
        "status": result.status,
        "message": result.message,
    }
    with transaction.atomic():
        point = KpiPoint.objects.select_for_update().filter(kpi=kpi, start=start).first()
        if point is None:
            return KpiPoint.objects.create(kpi=kpi, start=start, computed_at=timezone.now(), **values)
        if _same(point, values):
            return point
        for name, value in values.items():
            setattr(point, name, value)
        point.revisions += 1
        point.computed_at = timezone.now()
        point.save()
        return point


def _windows_of(kpi: KpiDefinition, qs: QuerySet) -> set[datetime]:
    kind = "week" if kpi.window == KpiDefinition.Window.WEEK else "day"
    return {
        window_bounds(kpi, w)[0]
        for w in qs.annotate(w=Trunc("ts", kind, tzinfo=UTC)).values_list("w", flat=True).distinct()
    }


def _chunks(items: list, size: int = 500) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def touched_windows(kpi: KpiDefinition, *, settle: float) -> tuple[set[datetime], int, int]:
    """Windows touched since the watermarks, and the watermarks to move to."""
    now = timezone.now()
    new_predictions = scoped_predictions(kpi).filter(id__gt=kpi.prediction_watermark)
    windows = _windows_of(kpi, new_predictions)
    settled = now - timedelta(seconds=settle)
    prediction_mark = Prediction.objects.filter(
        id__gt=kpi.prediction_watermark, received_at__lte=settled
    ).aggregate(m=Max("id"))["m"]

    new_outcomes = Outcome.objects.filter(endpoint=kpi.endpoint, environment=kpi.environment)
    revised = Q(id__gt=kpi.outcome_watermark)
    if kpi.last_rollup_at is not None:  # an outcome sent again keeps its id; its received_at moves
        revised |= Q(received_at__gte=kpi.last_rollup_at - OUTCOME_REVISION_OVERLAP)
    request_ids = sorted(set(new_outcomes.filter(revised).values_list("request_id", flat=True)))
    for chunk in _chunks(request_ids):
        windows |= _windows_of(kpi, scoped_predictions(kpi).filter(request_id__in=chunk))
    outcome_mark = Outcome.objects.filter(id__gt=kpi.outcome_watermark, received_at__lte=settled).aggregate(
        m=Max("id")
    )["m"]
    return (
        windows,
        prediction_mark or kpi.prediction_watermark,
        outcome_mark or kpi.outcome_watermark,
    )


def unmatched_outcomes(kpi: KpiDefinition) -> int:
    """Outcomes sent for the endpoint in the KPI's environment that match no logged prediction (a
    pruned prediction's, or a row the request never had): they cannot count, and the KPI says how
    many there are. Counted only on an endpoint where the KPI's own model is deployed."""
    if not own_deployments(kpi).exists():
        return 0
    logged = Prediction.objects.filter(
        endpoint=OuterRef("endpoint"),
        environment=OuterRef("environment"),
        request_id=OuterRef("request_id"),
        row=OuterRef("row"),
    )
    outcomes = Outcome.objects.filter(endpoint=kpi.endpoint, environment=kpi.environment)
    return outcomes.exclude(Exists(logged)).count()


def kpi_rollup(*, kpi: KpiDefinition, settle: float | None = None) -> list[KpiPoint]:
    """Recompute the windows of ``kpi`` touched since its watermarks; the points written. A KPI whose
    definition no longer compiles, or whose model has no deployment on its endpoint, gets its
    ``problem`` set and no points."""
    settle = settle_seconds() if settle is None else settle
    started = timezone.now()
    try:
        compiled = compile_kpi_of(kpi)
    except DefinitionError as exc:
        KpiDefinition.objects.filter(pk=kpi.pk).update(problem=f"cannot be computed: {exc}")
        return []
    if not own_deployments(kpi).exists():  # e.g. a definition naming another team's endpoint
        KpiDefinition.objects.filter(pk=kpi.pk).update(
            problem=f"nothing to count: {kpi.model.name} has no deployment on an endpoint named "
            f"'{kpi.endpoint}' in {kpi.environment}"
        )
        return []
    windows, prediction_mark, outcome_mark = touched_windows(kpi, settle=settle)
    points = [point_recompute(kpi, compiled, start) for start in sorted(windows)]
    KpiDefinition.objects.filter(pk=kpi.pk).update(
        prediction_watermark=prediction_mark,
        outcome_watermark=outcome_mark,
        last_rollup_at=started,
        # Counted again only when outcomes arrived: an anti-join over the endpoint's outcomes.
        unmatched_outcomes=(
            unmatched_outcomes(kpi)
            if compiled.needs_outcome
            and (outcome_mark != kpi.outcome_watermark or kpi.last_rollup_at is None)
            else kpi.unmatched_outcomes
            if compiled.needs_outcome
            else 0
        ),
        problem="",
    )
    kpi.refresh_from_db()
    from apps.kpis.alerts import kpi_alert_check

    kpi_alert_check(kpi=kpi)
    if points:  # new data: the KPI page's impact section, computed here rather than per request
        from apps.kpis.impact_page import impact_warm

        try:
            impact_warm(kpi)
        except Exception:  # the points are stored; a page computes the section itself if it must
            log.exception("KPI %s: impact section not precomputed", kpi.pk)
    return points


def compile_kpi_of(kpi: KpiDefinition) -> CompiledKpi:
    from apps.kpis.definitions import compile_kpi

    return compile_kpi(kpi.kind, kpi.params, kpi.segments)


def kpi_recompute(*, kpi: KpiDefinition, start: datetime, end: datetime) -> list[KpiPoint]:
    """Recompute every window overlapping ``[start, end)`` (for a person's "recompute", or a backfill)."""
    compiled = compile_kpi_of(kpi)
    points, moment = [], window_bounds(kpi, start)[0]
    while moment < end:
        points.append(point_recompute(kpi, compiled, moment))
        moment = window_bounds(kpi, moment)[1]
    return points


def kpis_rollup_all(*, settle: float | None = None) -> int:
    """Every enabled KPI, one after another; one KPI's failure is logged and does not stop the rest."""
    written = 0
    for kpi in KpiDefinition.objects.filter(enabled=True).select_related("model__team", "owner"):
        try:
            written += len(kpi_rollup(kpi=kpi, settle=settle))
        except Exception as exc:  # a bug in one KPI must not starve the others; it is shown on the KPI
            log.exception("KPI %s: roll-up failed", kpi.pk)
            KpiDefinition.objects.filter(pk=kpi.pk).update(
                problem=f"roll-up failed: {type(exc).__name__}: {exc}"
            )
    return written
