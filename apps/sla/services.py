"""Changing service-level objectives: IT sets them, every change is audited."""

import math

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from apps.accounts import access
from apps.accounts.roles import Role
from apps.core.audit import audit_record
from apps.sla.models import Slo

PERCENTILES = tuple(Slo.Percentile.values)


def _number(value, field: str, errors: dict) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        errors[field] = f"'{value}' is not a number"
        return None
    if not math.isfinite(number):
        errors[field] = "must be a finite number"
        return None
    return number


@transaction.atomic
def slo_set(*, user, endpoint, latency_ms, availability_percent, latency_percentile=99) -> Slo:
    """Set (or replace) an endpoint's objectives: latency percentile ≤ ``latency_ms`` and
    ``availability_percent`` of requests without a server error."""
    if not access.has_role(user, Role.IT_OPERATOR, Role.ADMIN):
        raise PermissionDenied("only IT operators set service-level objectives")
    errors: dict[str, str] = {}
    latency = _number(latency_ms, "latency_ms", errors)
    if latency is not None and latency <= 0:
        errors["latency_ms"] = "the latency target must be above 0 ms"
    availability = _number(availability_percent, "availability_percent", errors)
    if availability is not None and not 0 < availability < 100:
        errors["availability_percent"] = "the availability target is a percentage above 0 and below 100"
    try:
        percentile = int(latency_percentile)
    except (TypeError, ValueError):
        percentile = None
    if percentile not in PERCENTILES:
        errors["latency_percentile"] = (
            f"'{latency_percentile}' is not one of {', '.join(map(str, PERCENTILES))}"
        )
    if errors:
        raise ValidationError(errors)

    previous = Slo.objects.select_for_update().filter(endpoint=endpoint).first()
    before = None if previous is None else _as_dict(previous)
    slo, _ = Slo.objects.update_or_create(
        endpoint=endpoint,
        defaults={
            "latency_ms": latency,
            "latency_percentile": percentile,
            "availability_percent": availability,
            "set_by": user,
            "set_at": timezone.now(),
        },
    )
    audit_record(
        actor=user,
        action="slo.set",
        obj=slo,
        team=endpoint.team,
        endpoint=endpoint.name,
        environment=endpoint.environment.name,
        previous=before,
        **_as_dict(slo),
    )
    return slo


def _as_dict(slo: Slo) -> dict:
    return {
        "latency_ms": slo.latency_ms,
        "latency_percentile": slo.latency_percentile,
        "availability_percent": slo.availability_percent,
    }
