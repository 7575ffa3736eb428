"""Business KPIs: definitions over the prediction log and its outcomes, their roll-ups per window
(one KpiPoint per day or week), and the alerts raised when the latest complete window leaves the
target band, with people's decisions on them.

What a definition's ``params`` and ``segments`` hold is described and validated in
``apps/kpis/definitions.py``; the arithmetic lives in ``apps/kpis/stats.py`` (no Django)."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.core.severity import AlertSeverity


class KpiDefinition(models.Model):
    """An aggregation over the predictions (and outcomes) of one endpoint in one environment,
    optionally of a few of its deployments only, computed per day or week."""

    class Kind(models.TextChoices):
        SHARE = "share", "Share of predictions"
        RATE_AMONG = "rate_among", "Rate among a subset"
        MEAN = "mean", "Mean of a value"
        SUM = "sum", "Sum of a value"

    class Window(models.TextChoices):
        DAY = "day"
        WEEK = "week"

    class Unit(models.TextChoices):
        PERCENT = "percent"
        CURRENCY = "currency"
        NUMBER = "number"

    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    model = models.ForeignKey("registry.RegisteredModel", on_delete=models.CASCADE, related_name="kpis")
    endpoint = models.CharField(max_length=200, help_text="endpoint name, as the prediction log has it")
    environment = models.CharField(max_length=50, default="production")
    deployment_ids = models.JSONField(
        default=list, blank=True, help_text="only these deployments' predictions; empty: all that answered"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    params = models.JSONField(default=dict, help_text="per kind; see apps/kpis/definitions.py")
    segments = models.JSONField(default=list, blank=True, help_text="conditions every row must meet")
    window = models.CharField(max_length=8, choices=Window.choices, default=Window.DAY)
    unit = models.CharField(max_length=16, choices=Unit.choices, default=Unit.NUMBER)
    currency = models.CharField(max_length=8, blank=True, help_text="e.g. EUR, when the unit is currency")
    decimals = models.PositiveSmallIntegerField(default=1)
    target = models.FloatField(null=True, blank=True)
    band_low = models.FloatField(null=True, blank=True, help_text="below this the KPI is out of band")
    band_high = models.FloatField(null=True, blank=True, help_text="above this the KPI is out of band")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_kpis")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    enabled = models.BooleanField(default=True)
    # Roll-up progress: predictions and outcomes with ids up to these have been folded in.
    prediction_watermark = models.BigIntegerField(default=0)
    outcome_watermark = models.BigIntegerField(default=0)
    last_rollup_at = models.DateTimeField(null=True, blank=True)
    unmatched_outcomes = models.PositiveIntegerField(
        default=0, help_text="outcomes of the endpoint that matched no prediction"
    )
    problem = models.TextField(blank=True, help_text="why the last roll-up failed, if it did")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["model", "name"]
        constraints = [models.UniqueConstraint(fields=["model", "name"], name="kpis_name_unique_per_model")]

    def __str__(self) -> str:
        return f"{self.name} ({self.model.name})"


class KpiPoint(models.Model):
    """The KPI over one window ``[start, end)``: recomputed whenever predictions or outcomes of the
    window arrive, so a late outcome revises the point (``revisions`` counts the changes)."""

    class Status(models.TextChoices):
        OK = "ok"
        OUT_OF_BAND = "out_of_band"
        INSUFFICIENT = "insufficient"  # nothing to divide by, or too few rows for a value
        ERROR = "error"

    kpi = models.ForeignKey(KpiDefinition, on_delete=models.CASCADE, related_name="points")
    start = models.DateTimeField()
    end = models.DateTimeField()
    value = models.FloatField(null=True, blank=True)
    numerator = models.FloatField(null=True, blank=True, help_text="rows meeting the condition, or the sum")
    denominator = models.FloatField(null=True, blank=True, help_text="rows counted in the value")
    n = models.PositiveIntegerField(default=0, help_text="predictions in the window after segment filters")
    labelled = models.PositiveIntegerField(default=0, help_text="of those, with an outcome")
    interval_low = models.FloatField(null=True, blank=True)
    interval_high = models.FloatField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OK)
    message = models.TextField(blank=True)
    computed_at = models.DateTimeField()
    revisions = models.PositiveIntegerField(default=0, help_text="times the value changed since")

    class Meta:
        ordering = ["kpi", "start"]
        constraints = [models.UniqueConstraint(fields=["kpi", "start"], name="kpis_point_once_per_window")]

    def __str__(self) -> str:
        return f"{self.kpi.name} @ {self.start:%Y-%m-%d}: {self.value} ({self.status})"


class KpiAlert(models.Model):
    """The KPI's latest complete window outside its band. One unresolved alert per KPI; a repeat
    adds an occurrence. Same states and notification channels as monitoring's alerts; people decide."""

    class State(models.TextChoices):
        OPEN = "open"
        ACKNOWLEDGED = "acknowledged"
        RESOLVED = "resolved"

    Severity = AlertSeverity

    kpi = models.ForeignKey(KpiDefinition, on_delete=models.CASCADE, related_name="alerts")
    severity = models.CharField(max_length=16, choices=Severity.choices)
    state = models.CharField(max_length=16, choices=State.choices, default=State.OPEN)
    occurrences = models.PositiveIntegerField(default=1)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    latest_point = models.ForeignKey(KpiPoint, null=True, on_delete=models.SET_NULL, related_name="+")
    evidence = models.JSONField(default=dict)
    summary = models.CharField(max_length=300)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_seen", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kpi"], condition=~Q(state="resolved"), name="kpis_alert_once_while_unresolved"
            )
        ]
        indexes = [models.Index(fields=["state", "last_seen"])]

    def __str__(self) -> str:
        return f"{self.severity} KPI alert on {self.kpi.name} ({self.state})"


class KpiAlertAction(models.Model):
    """A person's decision on a KPI alert: who, what, why, when."""

    class Kind(models.TextChoices):
        ACKNOWLEDGE = "acknowledge"
        RESOLVE = "resolve"
        NOTE = "note"  # a decision or remark that changes no state, shown on the chart

    alert = models.ForeignKey(KpiAlert, on_delete=models.CASCADE, related_name="actions")
    action = models.CharField(max_length=16, choices=Kind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["alert", "created_at", "id"]

    def __str__(self) -> str:
        return f"{self.actor} {self.action} KPI alert {self.alert_id}"


class KpiNotification(models.Model):
    """Which monitoring NotificationDelivery carried which KPI alert (the delivery's own ``alert``
    points at monitoring alerts only)."""

    alert = models.ForeignKey(KpiAlert, on_delete=models.CASCADE, related_name="notifications")
    delivery = models.OneToOneField(
        "monitoring.NotificationDelivery", on_delete=models.CASCADE, related_name="kpi_notification"
    )

    def __str__(self) -> str:
        return f"delivery {self.delivery_id} of KPI alert {self.alert_id}"
