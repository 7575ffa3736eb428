"""Service levels of the inference service: per-minute rollups, worker samples and each endpoint's
objectives. Rollups and samples name their endpoint and environment as the prediction log does
(by name), so ingestion never has to look anything up."""

from django.conf import settings
from django.db import models


class SlaRollup(models.Model):
    """One endpoint version's requests in one minute, added up from every worker's flushes."""

    endpoint = models.CharField(max_length=200)
    environment = models.CharField(max_length=50)
    version_number = models.PositiveIntegerField(help_text="0: answered before a version was chosen")
    minute = models.DateTimeField(help_text="start of the minute, UTC")
    count = models.BigIntegerField(default=0)
    errors = models.BigIntegerField(default=0, help_text="server errors (5xx, including 503)")
    client_errors = models.BigIntegerField(default=0, help_text="client errors (4xx, including 422)")
    latency_sum_ms = models.FloatField(default=0.0)
    buckets = models.JSONField(default=list, help_text="latency histogram counts on apps.sla.stats bounds")

    class Meta:
        ordering = ["minute", "version_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "environment", "version_number", "minute"], name="sla_rollup_unique_cell"
            )
        ]
        indexes = [models.Index(fields=["endpoint", "environment", "minute"])]

    def __str__(self) -> str:
        return f"{self.endpoint}/{self.environment} v{self.version_number} {self.minute:%Y-%m-%d %H:%M}"


class SlaFlush(models.Model):
    """The id of every service-level record already added into a rollup: a record delivered again
    (the log is at-least-once) finds its id here and is skipped."""

    id = models.CharField(max_length=80, primary_key=True)
    claimed_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return self.id


class WorkerSample(models.Model):
    """One inference worker process's CPU and memory at one moment, and the requests it answered
    since its previous sample."""

    host = models.CharField(max_length=200)
    pid = models.PositiveIntegerField()
    ts = models.DateTimeField()
    cpu_seconds = models.FloatField(help_text="user + system since the process started")
    cpu_percent = models.FloatField(null=True, help_text="of one core, since the previous sample")
    rss_bytes = models.BigIntegerField()
    requests = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["ts"]
        constraints = [models.UniqueConstraint(fields=["host", "pid", "ts"], name="worker_sample_unique")]
        indexes = [models.Index(fields=["ts"])]

    def __str__(self) -> str:
        return f"{self.host}:{self.pid} {self.ts:%H:%M:%S}"


class Slo(models.Model):
    """An endpoint's objectives, set by IT: a latency percentile under a target and an availability
    (share of requests without a server error) over the period looked at."""

    class Percentile(models.IntegerChoices):
        P50 = 50, "p50"
        P95 = 95, "p95"
        P99 = 99, "p99"

    endpoint = models.OneToOneField("deployments.Endpoint", on_delete=models.CASCADE, related_name="slo")
    latency_ms = models.FloatField(help_text="the percentile's target in milliseconds")
    latency_percentile = models.PositiveSmallIntegerField(choices=Percentile.choices, default=99)
    availability_percent = models.FloatField(help_text="share of requests without a server error")
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    set_at = models.DateTimeField()

    def __str__(self) -> str:
        return (
            f"{self.endpoint}: p{self.latency_percentile} ≤ {self.latency_ms:g} ms, "
            f"{self.availability_percent:g}% available"
        )

    @property
    def availability(self) -> float:
        return self.availability_percent / 100.0
