from django.contrib import admin

from apps.kpis.models import KpiAlert, KpiAlertAction, KpiDefinition, KpiNotification, KpiPoint
from apps.serving.admin import ReadOnlyAdmin


@admin.register(KpiDefinition)
class KpiDefinitionAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "model",
        "endpoint",
        "environment",
        "kind",
        "window",
        "owner",
        "enabled",
        "last_rollup_at",
    )
    list_filter = ("kind", "window", "enabled")
    readonly_fields = (
        "prediction_watermark",
        "outcome_watermark",
        "last_rollup_at",
        "unmatched_outcomes",
        "problem",
    )


@admin.register(KpiPoint)
class KpiPointAdmin(admin.ModelAdmin):
    list_display = ("kpi", "start", "value", "n", "status", "revisions", "computed_at")
    list_filter = ("status",)


@admin.register(KpiAlert)
class KpiAlertAdmin(admin.ModelAdmin):
    list_display = ("kpi", "severity", "state", "occurrences", "first_seen", "last_seen")
    list_filter = ("state", "severity")


@admin.register(KpiAlertAction)
class KpiAlertActionAdmin(admin.ModelAdmin):
    list_display = ("alert", "action", "actor", "created_at")


admin.site.register(KpiNotification, ReadOnlyAdmin)  # written by the alerting task only
