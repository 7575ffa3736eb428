"""The prediction log in the database: what was predicted, what was refused, what really happened.

Rows arrive in bulk from the log buffer (apps/serving/ingest.py), so the deployment and version
are plain ids rather than foreign keys: logging must never wait for, or fail on, the rows it
describes, and a deployment's log outlives the deployment."""

from django.conf import settings
from django.db import models
from django.db.models.functions import Now


class Prediction(models.Model):
    class Role(models.TextChoices):
        PRIMARY = "primary"
        CANARY = "canary"
        SHADOW = "shadow"
        BATCH = "batch"

    request_id = models.CharField(max_length=64)
    row = models.IntegerField(default=0)
    endpoint = models.CharField(max_length=200)
    environment = models.CharField(max_length=50)
    deployment_id = models.BigIntegerField(db_index=True)
    version_id = models.BigIntegerField(db_index=True)
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.PRIMARY)
    inputs = models.JSONField()
    prediction = models.JSONField()
    probabilities = models.JSONField(null=True, blank=True)
    latency_ms = models.FloatField(default=0.0)
    ts = models.DateTimeField(db_index=True)
    batch = models.BooleanField(default=False)
    # A database default: bulk ingestion leaves the column out and the server fills it.
    received_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [
            # The idempotency key: a batch delivered twice by the buffer inserts nothing twice.
            # A shadow deployment logs the same request and row under its own deployment id.
            models.UniqueConstraint(
                fields=["request_id", "row", "deployment_id"], name="serving_prediction_once"
            ),
        ]
        indexes = [models.Index(fields=["endpoint", "environment", "ts"], name="serving_pred_endpoint_ts")]

    def __str__(self) -> str:
        return f"{self.endpoint}/{self.environment} {self.request_id}#{self.row}"


class RejectedRequest(models.Model):
    """A request refused by schema checks: a data-quality event. Only the errors are kept, never
    the values, which may be what made the request unsafe to store."""

    request_id = models.CharField(max_length=64, unique=True)
    endpoint = models.CharField(max_length=200)
    environment = models.CharField(max_length=50)
    deployment_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    version_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    errors = models.JSONField(default=list)
    ts = models.DateTimeField(db_index=True)
    received_at = models.DateTimeField(db_default=Now())

    class Meta:
        indexes = [models.Index(fields=["endpoint", "environment", "ts"], name="serving_rej_endpoint_ts")]

    def __str__(self) -> str:
        return f"{self.endpoint}/{self.environment} {self.request_id} rejected"


class Outcome(models.Model):
    """The ground truth for one logged prediction row: the request id and row it was logged under,
    on one endpoint in one environment (the same request id elsewhere is another prediction).
    Sent again, the value is replaced in place (the table's unique key makes the write an upsert)
    and the value it replaced is kept as an OutcomeRevision. ``business_key`` is the key it was
    matched by, when it was."""

    endpoint = models.CharField(max_length=200)
    environment = models.CharField(max_length=50)
    request_id = models.CharField(max_length=64)
    row = models.IntegerField(default=0)
    business_key = models.CharField(max_length=200, null=True, blank=True)
    value = models.JSONField()
    observed_at = models.DateTimeField(db_default=Now())
    received_at = models.DateTimeField(db_default=Now(), help_text="when the current value arrived")

    class Meta:
        constraints = [
            # One outcome per prediction row: never two conflicting labels for one prediction. Its
            # index also serves the joins from predictions (endpoint, environment, request id, row).
            models.UniqueConstraint(
                fields=["endpoint", "environment", "request_id", "row"],
                name="serving_outcome_once_per_prediction_row",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.endpoint}/{self.environment} outcome for {self.request_id}#{self.row}"


class OutcomeRevision(models.Model):
    """An outcome's value as it was before an upload replaced it, linked to the audit event of
    that upload (who sent it, when, how many rows): no label changes without a trace."""

    outcome = models.ForeignKey(Outcome, on_delete=models.CASCADE, related_name="revisions")
    value = models.JSONField()
    observed_at = models.DateTimeField()
    audit_event = models.ForeignKey("core.AuditEvent", on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["outcome", "id"]

    def __str__(self) -> str:
        return f"{self.outcome} was {self.value!r} before audit event {self.audit_event_id}"


class BatchJob(models.Model):
    """A file scored in chunks by Celery workers: which model scored it (the endpoint's live primary
    at submit time, or a version asked for directly), how far it got and where the scored file is.
    Progress is counted in BatchChunk rows, so a chunk run twice is counted once."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    team = models.ForeignKey("accounts.Team", on_delete=models.PROTECT, related_name="batch_jobs")
    endpoint = models.ForeignKey(
        "deployments.Endpoint", null=True, blank=True, on_delete=models.PROTECT, related_name="batch_jobs"
    )
    environment = models.CharField(max_length=50, blank=True)
    deployment = models.ForeignKey(
        "deployments.Deployment", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    version = models.ForeignKey("registry.ModelVersion", on_delete=models.PROTECT, related_name="batch_jobs")
    package = models.ForeignKey("packaging.PackageBuild", on_delete=models.PROTECT, related_name="+")
    input_file = models.FileField(max_length=300)
    input_filename = models.CharField(max_length=255)
    input_format = models.CharField(max_length=10, help_text="csv or parquet; the output has the same")
    input_sha256 = models.CharField(max_length=64)
    row_count = models.PositiveIntegerField()
    chunk_size = models.PositiveIntegerField()
    chunks_total = models.PositiveIntegerField()
    chunks_done = models.PositiveIntegerField(default=0)
    rows_scored = models.PositiveIntegerField(default=0)
    rows_refused = models.PositiveIntegerField(default=0, help_text="rows that break the input schema")
    values_outside_range = models.JSONField(
        default=dict,
        blank=True,
        help_text="per feature, values outside the schema's min-max or categories that were scored",
    )
    model_starts = models.PositiveIntegerField(
        default=0,
        help_text="times a sandboxed model process was started for the job (start-up and loading "
        "are paid per start, not per chunk)",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    output_file = models.FileField(max_length=300, blank=True)
    error = models.TextField(blank=True)
    job = models.OneToOneField(
        "jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="batch_job"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    @property
    def request_id(self) -> str:
        """What the prediction log files this job's rows under."""
        return f"batch-{self.pk}"

    @property
    def is_done(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)

    def __str__(self) -> str:
        return f"batch job {self.pk} ({self.input_filename}, {self.status})"


class BatchChunk(models.Model):
    """One finished chunk of a batch job: written in the same transaction as its predictions, so
    a chunk redelivered after its worker died is neither logged nor counted twice."""

    batch_job = models.ForeignKey(BatchJob, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    rows_scored = models.PositiveIntegerField()
    rows_refused = models.PositiveIntegerField()
    part_file = models.CharField(max_length=300)
    finished_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["batch_job", "index"]
        constraints = [
            models.UniqueConstraint(fields=["batch_job", "index"], name="serving_batch_chunk_once")
        ]

    def __str__(self) -> str:
        return f"chunk {self.index} of batch job {self.batch_job_id}"
