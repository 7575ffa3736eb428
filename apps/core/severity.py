"""One severity scale for every domain: alerts (monitoring's and the KPIs') use its low, medium and
high; advisories (libraries) use all five steps."""

from django.db import models


class Severity(models.TextChoices):
    """An advisory's severity: from the CVSS base score (v3 qualitative scale), else from a severity
    the advisory states (see ``libraries.SeveritySource``); UNKNOWN when neither it nor an alias
    gives one."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    UNKNOWN = "unknown"


class AlertSeverity(models.TextChoices):
    """An alert's severity (data monitoring and KPIs), the three middle steps of the scale."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


# Higher is more severe. Only compared and sorted, never stored.
SEVERITY_RANK = {"unknown": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
