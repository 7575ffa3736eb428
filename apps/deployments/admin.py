from django.contrib import admin

from apps.accounts.admin_base import AuditedAdmin
from apps.core.admin import ReadOnlyAdmin
from apps.deployments.models import Deployment, Endpoint, EndpointKey, Environment


@admin.register(Environment)
class EnvironmentAdmin(AuditedAdmin):
    """Seeded after migrate; whether an environment needs approval is set here, audited."""

    list_display = ("name", "requires_approval", "order")


@admin.register(Endpoint)
class EndpointAdmin(ReadOnlyAdmin):
    """Created by deployments for their team; shown only. Which features refuse out-of-range
    values is set by the team or IT through the API (audited)."""

    list_display = ("name", "environment", "team", "refuse_outside_range")
    list_filter = ("environment", "team")


@admin.register(Deployment)
class DeploymentAdmin(ReadOnlyAdmin):
    """Requested, approved, promoted, rolled back and retired through the deployment services."""

    list_display = ("endpoint", "version", "role", "traffic_percent", "status", "created_at")
    list_filter = ("status", "role", "strategy")


@admin.register(EndpointKey)
class EndpointKeyAdmin(ReadOnlyAdmin):
    """Created and revoked by the endpoint's team or IT on the keys page, the API or the CLI
    (audited); only the hash is stored, so there is nothing here to copy."""

    list_display = ("endpoint", "name", "prefix", "created_by", "created_at", "revoked_at")
    list_filter = ("endpoint__environment",)
    exclude = ("key_hash",)
