from django.contrib import admin

from apps.monitoring.models import (
    Alert,
    AlertAction,
    CheckRun,
    Finding,
    Monitor,
    MonitorTemplate,
    NotificationChannel,
    NotificationDelivery,
    ProfileCursor,
    ReferenceProfile,
    SliceAnalysis,
    WindowProfile,
)
from apps.serving.admin import ReadOnlyAdmin


@admin.register(MonitorTemplate)
class MonitorTemplateAdmin(admin.ModelAdmin):
    list_display = ("name", "task_type")


@admin.register(Monitor)
class MonitorAdmin(admin.ModelAdmin):
    list_display = ("deployment", "template", "enabled", "last_scheduled_at")
    list_filter = ("enabled", "template")
    exclude = ("baseline_profile",)


@admin.register(ReferenceProfile)
class ReferenceProfileAdmin(admin.ModelAdmin):
    list_display = ("version", "status", "rows", "scored_rows", "built_at")
    exclude = ("profile",)


@admin.register(CheckRun)
class CheckRunAdmin(admin.ModelAdmin):
    list_display = ("monitor", "window", "window_end", "status", "tests_run", "flagged_count")
    list_filter = ("status", "window", "trigger")


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ("monitor", "check_name", "feature", "severity", "state", "occurrences", "last_seen")
    list_filter = ("state", "severity", "check_name")
    readonly_fields = [f.name for f in Alert._meta.fields]  # people act through the alert actions


@admin.register(AlertAction)
class AlertActionAdmin(admin.ModelAdmin):
    list_display = ("alert", "action", "actor", "created_at")
    readonly_fields = [f.name for f in AlertAction._meta.fields]


@admin.register(NotificationChannel)
class NotificationChannelAdmin(admin.ModelAdmin):
    list_display = ("team", "name", "webhook_url", "min_severity", "enabled")


@admin.register(NotificationDelivery)
class NotificationDeliveryAdmin(admin.ModelAdmin):
    list_display = ("channel", "kind", "event", "status", "attempts", "created_at")
    list_filter = ("status", "kind")


# Written by the monitoring tasks only: shown, never edited.
for _model in (WindowProfile, ProfileCursor, Finding, SliceAnalysis):
    admin.site.register(_model, ReadOnlyAdmin)
