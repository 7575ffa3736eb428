from django.contrib import admin

from apps.core.admin import ReadOnlyAdmin
from apps.serving.models import BatchChunk, BatchJob, Outcome, OutcomeRevision, Prediction, RejectedRequest

# The log is written by ingestion only; the admin looks, it never edits.


@admin.register(Prediction)
class PredictionAdmin(ReadOnlyAdmin):
    list_display = ("ts", "endpoint", "environment", "role", "request_id", "row", "version_id", "latency_ms")
    list_filter = ("environment", "role", "batch")
    search_fields = ("request_id", "endpoint")
    date_hierarchy = "ts"
    show_full_result_count = False  # counting a large log on every page is slow


@admin.register(RejectedRequest)
class RejectedRequestAdmin(ReadOnlyAdmin):
    list_display = ("ts", "endpoint", "environment", "request_id", "version_id")
    list_filter = ("environment",)
    search_fields = ("request_id", "endpoint")
    date_hierarchy = "ts"


@admin.register(Outcome)
class OutcomeAdmin(ReadOnlyAdmin):
    list_display = ("observed_at", "endpoint", "environment", "request_id", "row", "business_key")
    search_fields = ("request_id", "business_key", "endpoint")


@admin.register(OutcomeRevision)
class OutcomeRevisionAdmin(ReadOnlyAdmin):
    """Values replaced by a later upload; the audit event says who sent it and when."""

    list_display = ("outcome", "value", "observed_at", "audit_event")
    list_select_related = ("outcome", "audit_event__actor")


@admin.register(BatchJob)
class BatchJobAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "team", "endpoint", "environment", "version", "submitted_by")
    list_filter = ("environment",)


@admin.register(BatchChunk)
class BatchChunkAdmin(ReadOnlyAdmin):
    list_display = ("batch_job", "index", "rows_scored", "rows_refused", "finished_at")
