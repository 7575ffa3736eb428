"""Library governance: advisories (OSV), their import runs, findings in model versions' locks,
IT's library policy and patch requests."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.core.severity import Severity


class SeveritySource(models.TextChoices):
    """Where an advisory's severity comes from."""

    CVSS = "cvss", "CVSS vector"  # the base score of the advisory's own vector
    DATABASE = "database", "stated by the database"  # e.g. database_specific.severity: MODERATE
    ALIAS = "alias", "from an alias"  # another imported advisory for the same flaw (GHSA of a PYSEC)
    NONE = "none", "not given"


class Advisory(models.Model):
    """One OSV advisory as last imported. Withdrawn advisories are deleted, not kept."""

    osv_id = models.CharField(max_length=100, unique=True)
    aliases = models.JSONField(default=list, blank=True, help_text="CVE and GHSA ids")
    summary = models.TextField(blank=True)
    details = models.TextField(blank=True)
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.UNKNOWN)
    severity_source = models.CharField(
        max_length=16, choices=SeveritySource.choices, default=SeveritySource.NONE
    )
    severity_detail = models.CharField(
        max_length=200, blank=True, help_text="the field or alias the severity was read from"
    )
    cvss_vector = models.CharField(max_length=200, blank=True)
    cvss_score = models.FloatField(null=True, blank=True)
    published = models.DateTimeField(null=True, blank=True)
    modified = models.DateTimeField(
        help_text="the advisory's own `modified`: a re-import skips what is not newer"
    )
    references = models.JSONField(default=list, blank=True)
    source = models.CharField(max_length=500, blank=True, help_text="file it was imported from")
    raw = models.JSONField(default=dict, help_text="the advisory as imported, JSON-safe")
    imported_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-modified", "osv_id"]
        verbose_name_plural = "advisories"

    @property
    def cves(self) -> list[str]:
        return [a for a in self.aliases if a.startswith("CVE-")]

    def __str__(self) -> str:
        return self.osv_id


class AffectedPackage(models.Model):
    """One `affected` entry of an advisory for a PyPI package: its ECOSYSTEM ranges and explicit
    versions, as the matcher reads them (GIT ranges are not kept: they name commits)."""

    advisory = models.ForeignKey(Advisory, on_delete=models.CASCADE, related_name="affected")
    name = models.CharField(max_length=200, db_index=True, help_text="PEP 503 normalised")
    ranges = models.JSONField(
        default=list, blank=True, help_text="[{introduced, fixed|last_affected}] intervals"
    )
    versions = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["advisory", "name", "id"]

    def __str__(self) -> str:
        return f"{self.advisory_id}: {self.name}"


class ImportRun(models.Model):
    """One import of advisories from a directory or an archive, with what it did and each
    problem found, by file and field."""

    class Status(models.TextChoices):
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    source = models.CharField(max_length=500)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    files_seen = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    withdrawn = models.PositiveIntegerField(default=0, help_text="withdrawn advisories dropped or not added")
    skipped = models.PositiveIntegerField(default=0, help_text="files that were not valid advisories")
    problems = models.JSONField(default=list, blank=True, help_text="[{file, field, message}]")
    error = models.TextField(blank=True)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"import #{self.pk} of {self.source} ({self.status})"


class PipAuditReport(models.Model):
    """A `pip-audit --format json` report uploaded for a model version or on its own."""

    name = models.CharField(max_length=200)
    version = models.ForeignKey(
        "registry.ModelVersion", null=True, blank=True, on_delete=models.CASCADE, related_name="pip_audits"
    )
    team = models.ForeignKey("accounts.Team", null=True, blank=True, on_delete=models.SET_NULL)
    dependencies = models.JSONField(default=list, blank=True, help_text="[{name, version}] audited")
    raw = models.JSONField(default=dict)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"pip-audit report {self.name}"


class LibraryFinding(models.Model):
    """A vulnerable (or unreadable) library in a model version's lock, or in a pip-audit report."""

    class Kind(models.TextChoices):
        ADVISORY = "advisory"  # the installed version is affected by an advisory
        UNPARSABLE = "unparsable_version"  # the lock's version is not PEP 440: nothing can be said
        BLOCKED = "blocked"  # IT's policy blocks the library, or wants a higher version

    class Status(models.TextChoices):
        OPEN = "open"
        APPROVED = "approved"  # an IT operator approved a patch
        REVALIDATING = "revalidating"  # the patched version is being built and validated
        READY = "ready"  # the patched version passed and can be deployed
        DEPLOYED = "deployed"  # the patched version is live
        FAILED = "failed"  # the patch did not validate
        RESOLVED = "resolved"  # the latest scan no longer finds it (advisory withdrawn, lock changed)

    class Source(models.TextChoices):
        SCAN = "scan"
        PIP_AUDIT = "pip_audit"

    version = models.ForeignKey(
        "registry.ModelVersion",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="library_findings",
    )
    package_build = models.ForeignKey(
        "packaging.PackageBuild", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    report = models.ForeignKey(
        PipAuditReport, null=True, blank=True, on_delete=models.CASCADE, related_name="findings"
    )
    advisory = models.ForeignKey(
        Advisory, null=True, blank=True, on_delete=models.SET_NULL, related_name="findings"
    )
    kind = models.CharField(max_length=24, choices=Kind.choices, default=Kind.ADVISORY)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.SCAN)
    package = models.CharField(max_length=200, help_text="PEP 503 normalised")
    installed_version = models.CharField(max_length=200)
    osv_id = models.CharField(max_length=100, blank=True, help_text="the advisory's OSV id, kept if it goes")
    aliases = models.JSONField(default=list, blank=True)
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.UNKNOWN)
    summary = models.TextField(blank=True)
    fixed_version = models.CharField(
        max_length=200,
        blank=True,
        help_text="lowest version fixing this package's advisories that the model's other requirements allow",
    )
    fix_note = models.TextField(blank=True, help_text="how fixed_version was chosen and what was assumed")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    first_seen = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-first_seen", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "package", "osv_id"],
                condition=Q(report__isnull=True),
                name="library_finding_once_per_version",
            ),
            models.UniqueConstraint(
                fields=["report", "package", "osv_id"],
                condition=Q(report__isnull=False),
                name="library_finding_once_per_report",
            ),
        ]
        indexes = [models.Index(fields=["status", "severity"]), models.Index(fields=["package"])]

    def __str__(self) -> str:
        subject = self.version or self.report
        return f"{self.package}=={self.installed_version} {self.osv_id or self.kind} in {subject}"


class LibraryRule(models.Model):
    """IT's vetting of one library: allowed, blocked, or allowed from a minimum version."""

    class Rule(models.TextChoices):
        ALLOWED = "allowed"
        BLOCKED = "blocked"
        MINIMUM = "minimum"

    package = models.CharField(max_length=200, unique=True, help_text="PEP 503 normalised")
    rule = models.CharField(max_length=16, choices=Rule.choices)
    minimum_version = models.CharField(max_length=100, blank=True)
    reason = models.TextField(blank=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["package"]

    def __str__(self) -> str:
        suffix = f" >= {self.minimum_version}" if self.rule == self.Rule.MINIMUM else ""
        return f"{self.package}: {self.rule}{suffix}"


class LibraryException(models.Model):
    """A team may use a blocked (or too old) library until the exception expires."""

    rule = models.ForeignKey(LibraryRule, on_delete=models.CASCADE, related_name="exceptions")
    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="library_exceptions")
    expires_at = models.DateTimeField()
    reason = models.TextField()
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["rule", "team", "-expires_at"]

    def __str__(self) -> str:
        return f"{self.team} may use {self.rule.package} until {self.expires_at:%Y-%m-%d}"


class PatchRequest(models.Model):
    """IT's approval to upgrade one package in one model version's lock; a bulk approval makes one
    per affected version, sharing a batch id. Filled in by apps.libraries.patching."""

    class Scope(models.TextChoices):
        ONE = "one"  # approved for this model version
        ALL = "all"  # approved for every affected version at once

    class Status(models.TextChoices):
        APPROVED = "approved"
        REVALIDATING = "revalidating"
        READY = "ready"
        DEPLOYED = "deployed"
        FAILED = "failed"

    version = models.ForeignKey(
        "registry.ModelVersion", null=True, on_delete=models.SET_NULL, related_name="patch_requests"
    )
    findings = models.ManyToManyField(LibraryFinding, blank=True, related_name="patch_requests")
    package = models.CharField(max_length=200)
    from_version = models.CharField(max_length=200)
    target_version = models.CharField(max_length=200)
    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.ONE)
    batch = models.UUIDField(null=True, blank=True, help_text="shared by the requests of one bulk approval")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.APPROVED)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(auto_now_add=True)
    resulting_version = models.ForeignKey(
        "registry.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    patched_lock = models.TextField(blank=True)
    differences = models.JSONField(
        default=dict, blank=True, help_text="parity report against the current version"
    )
    error = models.TextField(blank=True)
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-approved_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "package", "target_version"],
                condition=~Q(status="failed"),
                name="one_live_patch_per_version_package_target",
            )
        ]

    def __str__(self) -> str:
        return f"patch {self.package} {self.from_version} → {self.target_version} for {self.version}"
