"""Monitoring data: what is watched (monitors from per-model-type templates), the compact profiles
it reads (reference and hourly windows), what each check found, the alerts raised from it, the
people's decisions on them and the notifications sent.

Statistics live in ``apps/monitoring/stats`` (no Django); these rows store their JSON output."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.core.severity import AlertSeverity


class MonitorTemplate(models.Model):
    """The starting configuration for every monitor of one model type. Seeded after migrate
    (templates.py); a monitor copies the config when it is created and is edited from then on."""

    task_type = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    config = models.JSONField(default=dict, help_text="see config.py for the keys")

    class Meta:
        ordering = ["task_type"]

    def __str__(self) -> str:
        return self.name


class Monitor(models.Model):
    """Watches one live primary or canary deployment. Its team's data scientists edit the config."""

    deployment = models.OneToOneField(
        "deployments.Deployment", on_delete=models.CASCADE, related_name="monitor"
    )
    template = models.ForeignKey(MonitorTemplate, on_delete=models.PROTECT, related_name="monitors")
    config = models.JSONField(default=dict)
    enabled = models.BooleanField(default=True)
    # Set by a person's re-baseline: a merged window profile that replaces the version's reference.
    baseline_profile = models.JSONField(null=True, blank=True)
    baseline_window = models.JSONField(null=True, blank=True, help_text="{start, end} of the re-baseline")
    baseline_set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    baseline_set_at = models.DateTimeField(null=True, blank=True)
    last_scheduled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"monitor of {self.deployment}"


class ReferenceProfile(models.Model):
    """A version's reference data as the statistics see it, with the model's own predictions and
    scores on it (scored once in the sandbox) as the "__prediction__"/"__score__" features."""

    class Status(models.TextChoices):
        PENDING = "pending"
        READY = "ready"
        FAILED = "failed"

    version = models.OneToOneField(
        "registry.ModelVersion", on_delete=models.CASCADE, related_name="monitoring_reference"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    features = models.JSONField(default=list, help_text="feature specs, pseudo-features included")
    profile = models.JSONField(null=True, blank=True)
    calibration = models.JSONField(
        null=True, blank=True, help_text="whether the reference scores are calibrated (for CBPE)"
    )
    reference_metrics = models.JSONField(default=dict, blank=True)
    rows = models.PositiveIntegerField(default=0)
    scored_rows = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    built_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"reference profile of {self.version} ({self.status})"


class WindowProfile(models.Model):
    """The live inputs and outputs of one deployment in one hour ``[start, start + 1h)``, by the
    predictions' own timestamps. Late rows are merged into their hour."""

    deployment = models.ForeignKey(
        "deployments.Deployment", on_delete=models.CASCADE, related_name="window_profiles"
    )
    start = models.DateTimeField()
    rows = models.PositiveIntegerField(default=0)
    profile = models.JSONField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["deployment", "start"]
        constraints = [models.UniqueConstraint(fields=["deployment", "start"], name="monitoring_window_once")]

    def __str__(self) -> str:
        return f"{self.deployment_id} @ {self.start:%Y-%m-%d %H:00} ({self.rows} rows)"


class ProfileCursor(models.Model):
    """The last prediction id folded into a deployment's window profiles. Moved in the same
    transaction as the profiles, so a run after a crash profiles nothing twice."""

    deployment = models.OneToOneField(
        "deployments.Deployment", on_delete=models.CASCADE, related_name="profile_cursor"
    )
    last_prediction_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"cursor {self.deployment_id} at {self.last_prediction_id}"


class CheckRun(models.Model):
    """One comparison of a window of live traffic with the baseline."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        SKIPPED = "skipped"  # too few predictions in the window
        FAILED = "failed"

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule"
        MANUAL = "manual"

    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="runs")
    job = models.OneToOneField(
        "jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="check_run"
    )
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    window = models.CharField(max_length=16, help_text="hour, day or week")
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    baseline = models.CharField(max_length=16, help_text="reference, previous or rebaselined")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    rows_current = models.PositiveIntegerField(default=0)
    rows_baseline = models.PositiveIntegerField(default=0)
    tests_run = models.PositiveIntegerField(default=0)
    flagged_count = models.PositiveIntegerField(default=0)
    q = models.FloatField(default=0.05)
    correction = models.CharField(max_length=16, default="bh")
    prediction_shares = models.JSONField(default=list, blank=True)
    performance = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["monitor", "window", "window_end"])]

    def __str__(self) -> str:
        return f"check run {self.pk} of {self.monitor_id} ({self.window} to {self.window_end:%Y-%m-%d %H:%M})"


class Finding(models.Model):
    """One test of one feature in one run, with all its evidence (stats.checks.Finding)."""

    run = models.ForeignKey(CheckRun, on_delete=models.CASCADE, related_name="findings")
    feature = models.CharField(max_length=200)
    check_name = models.CharField(
        max_length=32, help_text='drift, null_rate, class_share, … (the API\'s "check")'
    )
    test = models.CharField(max_length=64)
    statistic = models.FloatField(null=True)
    p_value = models.FloatField(null=True, blank=True)
    adjusted_p = models.FloatField(null=True, blank=True)
    effect_size = models.FloatField(null=True)
    effect_name = models.CharField(max_length=64)
    floor = models.FloatField()
    n_reference = models.BigIntegerField()
    n_current = models.BigIntegerField()
    flagged = models.BooleanField(default=False)
    severity = models.CharField(max_length=16, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["run", "-flagged", "check_name", "feature"]
        indexes = [models.Index(fields=["run", "flagged"])]

    def __str__(self) -> str:
        return f"{self.check_name} {self.feature} ({'flagged' if self.flagged else 'ok'})"


class Alert(models.Model):
    """Flagged findings of one kind on one feature of one monitor, de-duplicated while unresolved."""

    class State(models.TextChoices):
        OPEN = "open"
        ACKNOWLEDGED = "acknowledged"
        RESOLVED = "resolved"

    Severity = AlertSeverity

    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="alerts")
    check_name = models.CharField(
        max_length=32, help_text='drift, null_rate, class_share, … (the API\'s "check")'
    )
    feature = models.CharField(max_length=200)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    state = models.CharField(max_length=16, choices=State.choices, default=State.OPEN)
    occurrences = models.PositiveIntegerField(default=1)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    latest_run = models.ForeignKey(CheckRun, null=True, on_delete=models.SET_NULL, related_name="+")
    latest_finding = models.ForeignKey(Finding, null=True, on_delete=models.SET_NULL, related_name="+")
    evidence = models.JSONField(default=dict, help_text="the latest finding, as the run stored it")
    summary = models.CharField(max_length=300)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_seen", "-id"]
        constraints = [
            # The de-duplication key: one unresolved alert per monitor, check and feature.
            models.UniqueConstraint(
                fields=["monitor", "check_name", "feature"],
                condition=~Q(state="resolved"),
                name="monitoring_alert_once_while_unresolved",
            )
        ]
        indexes = [models.Index(fields=["state", "last_seen"])]

    @property
    def dedupe_key(self) -> str:
        return f"{self.monitor_id}:{self.check_name}:{self.feature}"

    def __str__(self) -> str:
        return f"{self.severity} {self.check_name} alert on {self.feature} ({self.state})"


class AlertAction(models.Model):
    """A person's decision on an alert: who, what, why, when."""

    class Kind(models.TextChoices):
        ACKNOWLEDGE = "acknowledge"
        RESOLVE = "resolve"
        REQUEST_RETRAINING = "request_retraining"
        ROLLBACK = "rollback"
        RETIRE = "retire"
        REBASELINE = "rebaseline"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="actions")
    action = models.CharField(max_length=32, choices=Kind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["alert", "created_at", "id"]

    def __str__(self) -> str:
        return f"{self.actor} {self.action} alert {self.alert_id}"


class NotificationChannel(models.Model):
    """Where a team's alerts go: e-mail addresses and/or a webhook (a JSON POST)."""

    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="notification_channels")
    name = models.CharField(max_length=100, default="default")
    emails = models.JSONField(default=list, blank=True)
    webhook_url = models.URLField(max_length=500, blank=True)
    min_severity = models.CharField(max_length=16, choices=Alert.Severity.choices, default=Alert.Severity.LOW)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["team", "name"]
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="monitoring_channel_name")]

    def __str__(self) -> str:
        return f"{self.team} · {self.name}"


class NotificationDelivery(models.Model):
    """One message to one channel by one means, with every attempt counted."""

    class Kind(models.TextChoices):
        EMAIL = "email"
        WEBHOOK = "webhook"

    class Status(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"
        FAILED = "failed"

    channel = models.ForeignKey(NotificationChannel, on_delete=models.CASCADE, related_name="deliveries")
    alert = models.ForeignKey(
        Alert, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    event = models.CharField(max_length=32, help_text="alert.opened, alert.escalated, retraining.requested")
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.event} to {self.channel} ({self.status})"


class SliceAnalysis(models.Model):
    """One run of the root-cause slice finder (stats/slices.py) over a window of logged predictions
    against its baseline: for an alert (queued when the alert opens), on demand, or as a drill-down
    (``parent`` + ``within``: the parent's explanation to search inside), so analyses form the tree
    a person walks. ``explanations`` is the finder's ``SliceResult.to_dict()``."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    class Trigger(models.TextChoices):
        ALERT = "alert"  # queued when the alert opened
        MANUAL = "manual"
        DRILL_DOWN = "drill_down"

    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="slice_analyses")
    alert = models.ForeignKey(
        Alert, null=True, blank=True, on_delete=models.CASCADE, related_name="slice_analyses"
    )
    run = models.ForeignKey(CheckRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    within = models.JSONField(null=True, blank=True, help_text="the slice searched inside (Slice.to_dict())")
    metric = models.JSONField(default=dict, help_text="SliceMetric.to_dict()")
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    baseline = models.CharField(max_length=16, help_text="reference, previous or rebaselined")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    rows_reference = models.PositiveIntegerField(default=0)
    rows_current = models.PositiveIntegerField(default=0)
    tests_run = models.PositiveIntegerField(default=0)
    q = models.FloatField(default=0.05)
    overall = models.JSONField(default=dict, blank=True)
    explanations = models.JSONField(default=dict, blank=True, help_text="SliceResult.to_dict()")
    error = models.TextField(blank=True)
    job = models.OneToOneField(
        "jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="slice_analysis"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["alert", "parent", "created_at"])]

    @property
    def explanation_list(self) -> list[dict]:
        return (self.explanations or {}).get("explanations", [])

    def __str__(self) -> str:
        return f"slice analysis {self.pk} of monitor {self.monitor_id} ({self.status})"
