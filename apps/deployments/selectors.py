"""Reads of the deployments app that depend on who asks."""

import re

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet

from apps.accounts import access
from apps.accounts.roles import Role
from apps.deployments.models import Deployment, Endpoint, EndpointKey
from apps.deployments.services import may_manage_keys
from apps.registry.selectors import versions_visible_to


def endpoints_visible_to(user) -> QuerySet:
    qs = Endpoint.objects.all()
    if access.sees_every_model(user):
        return qs
    return qs.filter(Q(team__members=user) | Q(deployments__version__model__business_owner=user)).distinct()


def outcome_endpoints_for(user) -> QuerySet:
    """Endpoints the user may send outcomes for: every one for IT and admins, their teams' own for
    data scientists, none for anyone else."""
    if not access.sees_every_model(user) and not access.can_write_outcomes(user):
        return Endpoint.objects.none()
    return access.restrict(Endpoint.objects.all(), user)


def deployments_visible_to(user) -> QuerySet:
    return Deployment.objects.filter(version__in=versions_visible_to(user).values("id"))


def endpoint_keys(*, user, endpoint: Endpoint) -> QuerySet:
    """The consumer keys of an endpoint the user already sees, newest first; only its team's data
    scientists and IT may list them (a business owner who sees the endpoint may not)."""
    if not may_manage_keys(user, endpoint):
        raise PermissionDenied("only the endpoint's team or IT may see its keys")
    return EndpointKey.objects.filter(endpoint=endpoint).select_related("created_by", "revoked_by")


def keyed_endpoints(user) -> QuerySet:
    """Endpoints whose keys the user manages: every one for IT, their teams' for data scientists."""
    endpoints = endpoints_visible_to(user)
    if access.sees_every_model(user):
        return endpoints
    if not access.has_role(user, Role.DATA_SCIENTIST):
        return endpoints.none()
    return endpoints.filter(team__in=access.team_ids_of(user))


def active_key_hashes(endpoint_ids) -> dict[int, frozenset[str]]:
    """Endpoint id → the hashes of its keys that are not revoked, for the inference service's routes."""
    found: dict[int, set[str]] = {}
    rows = EndpointKey.objects.filter(endpoint_id__in=endpoint_ids, revoked_at__isnull=True)
    for endpoint_id, key_hash in rows.values_list("endpoint_id", "key_hash"):
        found.setdefault(endpoint_id, set()).add(key_hash)
    return {endpoint_id: frozenset(hashes) for endpoint_id, hashes in found.items()}


def endpoints_of_model(model) -> list[str]:
    """Names of the endpoints where a model's versions are deployed, the latest deployment's first:
    deploying a new version means deploying it there, not on a new endpoint named after the model."""
    names: list[str] = []
    rows = (
        Deployment.objects.filter(version__model=model)
        .exclude(status__in=[Deployment.Status.REJECTED, Deployment.Status.FAILED])
        .order_by("-created_at", "-id")
        .values_list("endpoint__name", flat=True)
    )
    for name in rows:
        if name not in names:
            names.append(name)
    return names


def suggested_endpoint_name(model) -> str:
    """Where the deploy form points first: the endpoint the model already runs on, or else a name
    made from the model's (endpoint names are lower-case letters, digits, '-' and '_')."""
    existing = endpoints_of_model(model)
    if existing:
        return existing[0]
    return re.sub(r"[^a-z0-9_-]+", "-", model.name.lower()).strip("-_") or "endpoint"
