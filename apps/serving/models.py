"""The prediction log in the database: what was predicted, what was refused, what really happened.

Rows arrive in bulk from the log buffer (apps/serving/ingest.py), so the deployment and version
are plain ids rather than foreign keys: logging must never wait for, or fail on, the rows it
describes, and a deployment's log outlives the deployment."""

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
    """The ground truth for a prediction, found later: joined by request id (and row, when the
    request scored several), or by a business key the caller also sent among the inputs."""

    endpoint = models.CharField(max_length=200)
    request_id = models.CharField(max_length=64, null=True, blank=True)
    row = models.IntegerField(null=True, blank=True)
    business_key = models.CharField(max_length=200, null=True, blank=True)
    value = models.JSONField()
    observed_at = models.DateTimeField(db_default=Now())
    received_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(request_id__isnull=False) | models.Q(business_key__isnull=False),
                name="serving_outcome_has_key",
            ),
            # NULLs are distinct in a unique index, so "the whole request" (no row) gets its own.
            models.UniqueConstraint(
                fields=["endpoint", "request_id", "row"],
                condition=models.Q(request_id__isnull=False, row__isnull=False),
                name="serving_outcome_once_per_row",
            ),
            models.UniqueConstraint(
                fields=["endpoint", "request_id"],
                condition=models.Q(request_id__isnull=False, row__isnull=True),
                name="serving_outcome_once_per_request",
            ),
            models.UniqueConstraint(
                fields=["endpoint", "business_key"],
                condition=models.Q(request_id__isnull=True, business_key__isnull=False),
                name="serving_outcome_once_per_key",
            ),
        ]
        indexes = [models.Index(fields=["endpoint", "business_key"], name="serving_outcome_key")]

    def __str__(self) -> str:
        return f"{self.endpoint} outcome for {self.request_id or self.business_key}"
