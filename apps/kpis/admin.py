from django.contrib import admin

from apps.core.admin import ReadOnlyAdmin
from apps.kpis.models import KpiAlert, KpiAlertAction, KpiDefinition, KpiNotification, KpiPoint

# KPIs are defined and changed on their pages (scoped to their model's team and audited); points,
# alerts and notifications are written by the roll-up and alerting tasks. Here they are only shown.


@admin.register(KpiDefinition)
class KpiDefinitionAdmin(ReadOnlyAdmin):
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


@admin.register(KpiPoint)
class KpiPointAdmin(ReadOnlyAdmin):
    list_display = ("kpi", "start", "value", "n", "status", "revisions", "computed_at")
    list_filter = ("status",)


@admin.register(KpiAlert)
class KpiAlertAdmin(ReadOnlyAdmin):
    list_display = ("kpi", "severity", "state", "occurrences", "first_seen", "last_seen")
    list_filter = ("state", "severity")


@admin.register(KpiAlertAction)
class KpiAlertActionAdmin(ReadOnlyAdmin):
    list_display = ("alert", "action", "actor", "created_at")


admin.site.register(KpiNotification, ReadOnlyAdmin)
