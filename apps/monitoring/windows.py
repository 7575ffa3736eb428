"""Hourly window profiles from the prediction log, and merged profiles over any span of hours.

Each deployment has a cursor (the last prediction id profiled). New predictions after it are
grouped by the hour of their own timestamp, profiled against the version's reference bins and
merged into that hour's profile; the cursor moves in the same transaction, under a row lock, so
two workers, or a re-run after a crash, never count a prediction twice.

Prediction ids come from a sequence, and two ingestion transactions may commit out of id order.
Rows are therefore taken only up to the newest id received at least ``settle_seconds`` ago
(``MODELYARD_MONITORING_SETTLE_SECONDS``, 30 s by default): an ingestion transaction that takes
longer than that could leave a row behind the cursor. Ingestion batches commit in well under a
second."""

from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Max, Sum
from django.utils import timezone

from apps.deployments.models import Deployment
from apps.monitoring import frames
from apps.monitoring.models import Monitor, ProfileCursor, ReferenceProfile, WindowProfile
from apps.monitoring.stats.profiles import empty_window, merge_many, merge_profiles, profile_window
from apps.serving.models import Prediction

BATCH_ROWS = 20_000
HOUR = timedelta(hours=1)


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def settle_seconds() -> float:
    return float(getattr(settings, "MODELYARD_MONITORING_SETTLE_SECONDS", 30))


def _ready_reference(deployment: Deployment) -> ReferenceProfile | None:
    return ReferenceProfile.objects.filter(
        version_id=deployment.version_id, status=ReferenceProfile.Status.READY
    ).first()


def windows_profile_deployment(*, deployment: Deployment, settle: float | None = None) -> int:
    """Fold up to BATCH_ROWS new predictions of ``deployment`` into its hourly window profiles;
    the number folded. Nothing happens before the version's reference profile is ready (its bins
    are the windows' bins), and the cursor waits for it."""
    reference = _ready_reference(deployment)
    if reference is None:
        return 0
    settle = settle_seconds() if settle is None else settle
    ProfileCursor.objects.get_or_create(deployment=deployment)
    with transaction.atomic():
        cursor = ProfileCursor.objects.select_for_update().get(deployment=deployment)
        new = Prediction.objects.filter(deployment_id=deployment.pk, id__gt=cursor.last_prediction_id)
        bound = new.filter(received_at__lte=timezone.now() - timedelta(seconds=settle)).aggregate(
            top=Max("id")
        )["top"]
        if bound is None:
            return 0
        rows = list(
            new.filter(id__lte=bound)
            .order_by("id")
            .values_list("id", "ts", "inputs", "prediction", "probabilities")[:BATCH_ROWS]
        )
        by_hour: dict[datetime, list[tuple]] = {}
        for _id, ts, inputs, prediction, probabilities in rows:
            by_hour.setdefault(hour_of(ts), []).append((inputs, prediction, probabilities))
        names = [f["name"] for f in reference.features if not f["name"].startswith("__")]
        task_type = deployment.version.model.task_type
        for start, hour_rows in sorted(by_hour.items()):
            frame = frames.window_frame(hour_rows, names, task_type)
            fresh = profile_window(frame, reference.profile, features=reference.features)
            window = (
                WindowProfile.objects.select_for_update().filter(deployment=deployment, start=start).first()
            )
            if window is None:
                WindowProfile.objects.create(
                    deployment=deployment, start=start, rows=len(hour_rows), profile=fresh
                )
            else:
                window.profile = merge_profiles(window.profile, fresh)
                window.rows += len(hour_rows)
                window.save(update_fields=["profile", "rows", "updated_at"])
        cursor.last_prediction_id = rows[-1][0]
        cursor.save(update_fields=["last_prediction_id", "updated_at"])
    return len(rows)


def windows_profile_all(*, settle: float | None = None, max_rounds: int = 50) -> int:
    """Catch every enabled monitor's deployment up with the prediction log; rows folded in all."""
    total = 0
    monitors = Monitor.objects.filter(enabled=True).select_related("deployment__version__model")
    for monitor in monitors:
        for _ in range(max_rounds):
            done = windows_profile_deployment(deployment=monitor.deployment, settle=settle)
            total += done
            if done < BATCH_ROWS:
                break
    return total


MERGED_WINDOW_CACHE_SECONDS = 6 * 3600


def merged_window(
    *, deployment: Deployment, start: datetime, end: datetime, reference: dict
) -> tuple[dict, int]:
    """The merged profile of the hours in ``[start, end)`` and its number of predictions. Merging
    hourly profiles costs the same for ten thousand or ten million predictions.

    It still reads and merges every hour's JSON (a day: 24 profiles, a week: 168, 50–300 ms), and
    the monitoring pages ask for the same windows again and again, so the merge is cached under
    the hours' count, total rows and last update: a profile that takes new rows changes the key."""
    hours = WindowProfile.objects.filter(deployment=deployment, start__gte=start, start__lt=end)
    stamp = hours.aggregate(n=Count("id"), rows=Sum("rows"), last=Max("updated_at"))
    if not stamp["n"]:
        return empty_window(reference), 0
    key = (
        f"merged-window:{deployment.pk}:{start.isoformat()}:{end.isoformat()}:"
        f"{stamp['n']}:{stamp['rows']}:{stamp['last'].isoformat()}"
    )
    merged = cache.get(key)
    if merged is None:
        merged = merge_many(list(hours.order_by("start").values_list("profile", flat=True)))
        cache.set(key, merged, MERGED_WINDOW_CACHE_SECONDS)
    return merged, stamp["rows"]
