from django.contrib import admin

from apps.accounts.admin_base import AuditedAdmin, ReadOnlyAdmin
from apps.deployments.models import Deployment, Endpoint, Environment


@admin.register(Environment)
class EnvironmentAdmin(AuditedAdmin):
    """Seeded after migrate; whether an environment needs approval is set here, audited."""

    list_display = ("name", "requires_approval", "order")


@admin.register(Endpoint)
class EndpointAdmin(ReadOnlyAdmin):
    """Created by deployments for their team; shown only."""

    list_display = ("name", "environment", "team")
    list_filter = ("environment", "team")


@admin.register(Deployment)
class DeploymentAdmin(ReadOnlyAdmin):
    """Requested, approved, promoted, rolled back and retired through the deployment services."""

    list_display = ("endpoint", "version", "role", "traffic_percent", "status", "created_at")
    list_filter = ("status", "role", "strategy")
