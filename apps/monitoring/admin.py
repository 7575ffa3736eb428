from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from apps.accounts.admin_base import AuditedAdmin
from apps.core.admin import ReadOnlyAdmin
from apps.monitoring.config import config_validate
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


class MonitorTemplateForm(forms.ModelForm):
    class Meta:
        model = MonitorTemplate
        fields = ["task_type", "name", "description", "config"]

    def clean_config(self):
        config = self.cleaned_data["config"]
        try:
            return config_validate(config, feature_names=[])
        except ValidationError as exc:
            raise forms.ValidationError(
                [f"{key}: {'; '.join(m)}" for key, m in exc.message_dict.items()]
            ) from None


@admin.register(MonitorTemplate)
class MonitorTemplateAdmin(AuditedAdmin):
    """The starting config of new monitors: checked like a monitor's, and audited."""

    form = MonitorTemplateForm
    list_display = ("name", "task_type")


@admin.register(NotificationChannel)
class NotificationChannelAdmin(AuditedAdmin):
    """Where a team's alerts go; kept here, audited."""

    list_display = ("team", "name", "webhook_url", "min_severity", "enabled")


# Monitors are edited by their team on the monitor page (checked and audited); alerts change through
# the alert actions; the rest is written by the monitoring tasks. Here they are only shown.


@admin.register(Monitor)
class MonitorAdmin(ReadOnlyAdmin):
    list_display = ("deployment", "template", "enabled", "last_scheduled_at")
    list_filter = ("enabled", "template")
    exclude = ("baseline_profile",)


@admin.register(ReferenceProfile)
class ReferenceProfileAdmin(ReadOnlyAdmin):
    list_display = ("version", "status", "rows", "scored_rows", "built_at")
    exclude = ("profile",)


@admin.register(CheckRun)
class CheckRunAdmin(ReadOnlyAdmin):
    list_display = ("monitor", "window", "window_end", "status", "tests_run", "flagged_count")
    list_filter = ("status", "window", "trigger")


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ("monitor", "check_name", "feature", "severity", "state", "occurrences", "last_seen")
    list_filter = ("state", "severity", "check_name")


@admin.register(AlertAction)
class AlertActionAdmin(ReadOnlyAdmin):
    list_display = ("alert", "action", "actor", "created_at")


@admin.register(NotificationDelivery)
class NotificationDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("channel", "kind", "event", "status", "attempts", "created_at")
    list_filter = ("status", "kind")


for _model in (WindowProfile, ProfileCursor, Finding, SliceAnalysis):
    admin.site.register(_model, ReadOnlyAdmin)
