from django.contrib import admin

from apps.deployments.models import Deployment, Endpoint, Environment


@admin.register(Environment)
class EnvironmentAdmin(admin.ModelAdmin):
    list_display = ("name", "requires_approval", "order")


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    list_display = ("name", "environment", "team")
    list_filter = ("environment", "team")


@admin.register(Deployment)
class DeploymentAdmin(admin.ModelAdmin):
    list_display = ("endpoint", "version", "role", "traffic_percent", "status", "created_at")
    list_filter = ("status", "role", "strategy")
    readonly_fields = [f.name for f in Deployment._meta.fields]
