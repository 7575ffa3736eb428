"""Reads of the deployments app that depend on who asks."""

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from apps.accounts import access
from apps.accounts.roles import Role
from apps.deployments.models import Endpoint, EndpointKey
from apps.deployments.services import may_manage_keys


def endpoint_keys(*, user, endpoint: Endpoint) -> QuerySet:
    """The consumer keys of an endpoint the user already sees, newest first; only its team's data
    scientists and IT may list them (a business owner who sees the endpoint may not)."""
    if not may_manage_keys(user, endpoint):
        raise PermissionDenied("only the endpoint's team or IT may see its keys")
    return EndpointKey.objects.filter(endpoint=endpoint).select_related("created_by", "revoked_by")


def keyed_endpoints(user) -> QuerySet:
    """Endpoints whose keys the user manages: every one for IT, their teams' for data scientists."""
    endpoints = access.endpoints_visible_to(user)
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
