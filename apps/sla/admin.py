from django.contrib import admin

from apps.core.admin import ReadOnlyAdmin
from apps.sla.models import SlaFlush, SlaRollup, Slo, WorkerSample


@admin.register(Slo)
class SloAdmin(ReadOnlyAdmin):
    """Set on the IT service-level page, where each change is audited; here it is only shown."""

    list_display = (
        "endpoint",
        "latency_percentile",
        "latency_ms",
        "availability_percent",
        "set_by",
        "set_at",
    )


@admin.register(SlaRollup)
class SlaRollupAdmin(ReadOnlyAdmin):
    list_display = ("minute", "endpoint", "environment", "version_number", "count", "errors", "client_errors")
    list_filter = ("environment",)
    show_full_result_count = False


@admin.register(SlaFlush)
class SlaFlushAdmin(ReadOnlyAdmin):
    list_display = ("id", "claimed_at")


@admin.register(WorkerSample)
class WorkerSampleAdmin(ReadOnlyAdmin):
    list_display = ("ts", "host", "pid", "cpu_percent", "rss_bytes")
    show_full_result_count = False
