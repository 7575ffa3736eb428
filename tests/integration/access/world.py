"""The world the access matrix asks about: two teams, Aurora and Borealis, each with one of every
kind of object a URL names, and the people who ask: a data scientist of each team, an IT operator,
the business owner who sponsors Aurora's model, a business owner who sponsors nothing and an admin.

Rows are written with the ORM (no package builds, no Celery, no inference service): the matrix
asks who may reach an object, not whether the object's work succeeds. Files a route streams
(artifacts, packages, scored batch files) are stored for real so their owners get a 200.

Every name of a team's object carries the team's name, so a test can tell from a response's text
alone that it shows a team's data ("aurora", "borealis")."""

import io
import json
from dataclasses import dataclass, field
from datetime import timedelta
from types import SimpleNamespace

import pandas as pd
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from apps.accounts.models import ApiToken
from apps.accounts.roles import Role
from apps.accounts.services import token_create, user_create
from apps.core.audit import audit_record
from apps.deployments.models import Deployment, Endpoint, EndpointKey, Environment
from apps.jobs.models import Job
from apps.kpis.models import KpiAlert, KpiDefinition, KpiPoint
from apps.libraries.models import (
    Advisory,
    ImportRun,
    LibraryException,
    LibraryFinding,
    LibraryRule,
    PatchRequest,
    PipAuditReport,
)
from apps.monitoring.models import Alert, CheckRun, Finding, Monitor, SliceAnalysis
from apps.monitoring.templates import template_for
from apps.notices.models import Notice
from apps.packaging.models import PackageBuild
from apps.registry.datasets import infer_output_schema, infer_schema
from apps.registry.models import ModelVersion, RegisteredModel
from apps.serving.models import BatchJob

PASSWORD = "Tundra-Lantern-4817"
MISSING_PK = 987_654_321
# Who asks. "own" and "other" are data scientists of the team that owns the object asked about
# (Aurora) and of another team (Borealis); "sponsor" is the business owner of Aurora's model.
ROLES = ("own", "other", "it", "sponsor", "owner", "admin", "anonymous")
ROLE_WORDS = {
    "own": "data scientist of the object's team",
    "other": "data scientist of another team",
    "it": "IT operator",
    "sponsor": "business owner sponsoring the object's model",
    "owner": "business owner sponsoring nothing",
    "admin": "admin (superuser)",
    "anonymous": "anonymous",
}
# Which teams' data each role may see: any other team's name in a response is a leak.
SEES = {
    "own": {"aurora"},
    "other": {"borealis"},
    "it": {"aurora", "borealis"},
    "sponsor": {"aurora"},
    "owner": set(),
    "admin": {"aurora", "borealis"},
    "anonymous": set(),
}
TEAMS = ("aurora", "borealis")
# The kinds of object a route may name. Shared ones belong to the platform, the others to a team.
SHARED_KINDS = ("advisory", "advisory_import", "library_rule")
TEAM_KINDS = (
    "team",
    "token",
    "notice",
    "model",
    "version",
    "package",
    "endpoint",
    "endpoint_key",
    "deployment",
    "monitor",
    "check_run",
    "finding",
    "alert",
    "analysis",
    "job",
    "batch_job",
    "kpi",
    "kpi_alert",
    "library_finding",
    "patch",
    "pip_audit_report",
    "library_exception",
    "audit_event",
)
KINDS = SHARED_KINDS + TEAM_KINDS

# A small frame standing in for the model's inputs: the schema, the reference data and the batch
# files are all made from it.
FRAME = pd.DataFrame(
    {
        "income": [1200.0, 3400.0, 2500.0, 4100.0, 900.0, 3000.0],
        "segment": ["a", "b", "a", "c", "b", "a"],
        "approved": ["good", "bad", "good", "good", "bad", "good"],
    }
)
FEATURES_CSV = FRAME.drop(columns="approved").to_csv(index=False).encode()


@dataclass
class World:
    users: dict  # role → user (no "anonymous")
    tokens: dict  # role → API key
    objects: dict = field(default_factory=dict)  # (team, kind) → object; team None: shared
    login: SimpleNamespace | None = None  # a user whose password the login routes are given
    sessions: dict = field(default_factory=dict)  # role → session key, for the pages

    def target(self, kind: str):
        """The object asked about: Aurora's, or the platform's for shared kinds."""
        return self.objects.get(("aurora", kind)) or self.objects[(None, kind)]

    @staticmethod
    def missing(kind: str):
        """Stands in for an object of ``kind`` that does not exist."""
        return SimpleNamespace(
            pk=MISSING_PK,
            id=MISSING_PK,
            name=f"no-such-{kind.replace('_', '-')}",
            slug=f"no-such-{kind.replace('_', '-')}",
            osv_id="NO-SUCH-ADVISORY",
            package="no-such-package",
        )


def _store(path: str, content: bytes) -> str:
    return default_storage.save(path, ContentFile(content))


def build_world() -> World:
    users = {
        "own": user_create(
            username="ds-aurora", role=Role.DATA_SCIENTIST, team_name="Aurora", password=PASSWORD
        ),
        "other": user_create(
            username="ds-borealis", role=Role.DATA_SCIENTIST, team_name="Borealis", password=PASSWORD
        ),
        "it": user_create(username="it-operator", role=Role.IT_OPERATOR, password=PASSWORD),
        "sponsor": user_create(username="bo-sponsor", role=Role.BUSINESS_OWNER, password=PASSWORD),
        "owner": user_create(username="bo-nobody", role=Role.BUSINESS_OWNER, password=PASSWORD),
        "admin": user_create(username="admin", role=Role.ADMIN, password=PASSWORD),
    }
    world = World(
        users=users, tokens={role: token_create(user=u, name="matrix") for role, u in users.items()}
    )
    world.login = SimpleNamespace(username="login-only", password=PASSWORD)
    user_create(username="login-only", role=Role.BUSINESS_OWNER, password=PASSWORD)
    _shared(world)
    _team(world, "aurora", users["own"], sponsor=users["sponsor"])
    _team(world, "borealis", users["other"], sponsor=None)
    return world


def _shared(world: World) -> None:
    """What belongs to the platform rather than a team: advisories, imports, library rules."""
    it = world.users["it"]
    advisory = Advisory.objects.create(
        osv_id="GHSA-mtrx-0001-0001",
        summary="a made-up advisory for the access matrix",
        severity="high",
        modified=timezone.now(),
        raw={"id": "GHSA-mtrx-0001-0001"},
    )
    world.objects[(None, "advisory")] = advisory
    world.objects[(None, "advisory_import")] = ImportRun.objects.create(
        source="upload:matrix.json", status=ImportRun.Status.SUCCEEDED, started_by=it
    )
    world.objects[(None, "library_rule")] = LibraryRule.objects.create(
        package="leftpad", rule=LibraryRule.Rule.BLOCKED, reason="made up", updated_by=it
    )


def _team(world: World, name: str, ds, *, sponsor) -> None:
    team = ds.teams.get()
    objects = {"team": team, "token": ApiToken.objects.get(user=ds)}
    staging = Environment.objects.get(name="staging")
    production = Environment.objects.get(name="production")
    model = RegisteredModel.objects.create(
        team=team,
        name=f"{name}-model",
        task_type="binary_classification",
        business_owner=sponsor,
        created_by=ds,
    )
    version = ModelVersion.objects.create(
        model=model,
        number=1,
        artifact=_store(f"matrix/{name}/model.joblib", f"{name} model bytes".encode()),
        artifact_filename="model.joblib",
        artifact_sha256=f"{name:0<64}"[:64],
        artifact_size=20,
        framework="sklearn",
        format="joblib",
        safe_format=False,
        input_schema=infer_schema(FRAME, target="approved"),
        output_schema=infer_output_schema(FRAME["approved"], "binary_classification"),
        schema_source="inferred",
        reference_data=_store(f"matrix/{name}/train.csv", FRAME.to_csv(index=False).encode()),
        reference_filename="train.csv",
        reference_sha256=f"{name:1<64}"[:64],
        reference_format="csv",
        reference_rows=len(FRAME),
        target_column="approved",
        created_by=ds,
    )
    # A built package whose validation failed, so that IT has something to override.
    package = PackageBuild.objects.create(
        version=version,
        inputs_digest=f"{name:2<64}"[:64],
        status=PackageBuild.Status.SUCCEEDED,
        validation_passed=False,
        report={"checks": []},
        archive=_store(f"matrix/{name}/package.tar.gz", b"not really a tarball"),
        archive_sha256=f"{name:3<64}"[:64],
        archive_size=20,
        requested_by=ds,
        finished_at=timezone.now(),
    )
    # Staging: a live primary and a live canary (so the team may promote); production: a
    # deployment waiting for IT's approval.
    live = Endpoint.objects.create(environment=staging, name=f"{name}-live", team=team, created_by=ds)
    now = timezone.now()
    primary = Deployment.objects.create(
        endpoint=live,
        version=version,
        package=package,
        strategy="direct",
        role="primary",
        status=Deployment.Status.LIVE,
        live_at=now - timedelta(days=3),
        package_dir=f"/nonexistent/{name}/primary",
        requested_by=ds,
    )
    Deployment.objects.create(
        endpoint=live,
        version=version,
        package=package,
        strategy="canary",
        role="canary",
        traffic_percent=10.0,
        status=Deployment.Status.LIVE,
        live_at=now - timedelta(days=1),
        package_dir=f"/nonexistent/{name}/canary",
        requested_by=ds,
    )
    waiting = Deployment.objects.create(
        endpoint=Endpoint.objects.create(
            environment=production, name=f"{name}-prod", team=team, created_by=ds
        ),
        version=version,
        package=package,
        strategy="direct",
        role="primary",
        status=Deployment.Status.PENDING_APPROVAL,
        requested_by=ds,
    )
    template = template_for("binary_classification")
    monitor = Monitor.objects.create(deployment=primary, template=template, config=dict(template.config))
    job = Job.objects.create(
        kind="monitoring.run_check",
        subject_type="check_run",
        subject_id=0,
        team=team,
        status=Job.Status.SUCCEEDED,
        progress=100,
        idempotency_key=f"matrix:{name}:run",
        requested_by=ds,
    )
    day_end = now.replace(hour=0, minute=0, second=0, microsecond=0)
    run = CheckRun.objects.create(
        monitor=monitor,
        job=job,
        trigger="manual",
        window="day",
        window_start=day_end - timedelta(days=1),
        window_end=day_end,
        baseline="reference",
        status=CheckRun.Status.SUCCEEDED,
        rows_current=50,
        rows_baseline=len(FRAME),
        tests_run=1,
        flagged_count=1,
        requested_by=ds,
        finished_at=now,
    )
    finding = Finding.objects.create(
        run=run,
        feature="income",
        check_name="drift",
        test="ks",
        statistic=0.4,
        p_value=0.001,
        adjusted_p=0.002,
        effect_size=0.4,
        effect_name="wasserstein",
        floor=0.1,
        n_reference=len(FRAME),
        n_current=50,
        flagged=True,
        severity="high",
    )
    alert = Alert.objects.create(
        monitor=monitor,
        check_name="drift",
        feature="income",
        severity=Alert.Severity.HIGH,
        first_seen=now,
        last_seen=now,
        latest_run=run,
        latest_finding=finding,
        summary=f"income drifted on {name}-live",
    )
    analysis = SliceAnalysis.objects.create(
        monitor=monitor,
        alert=alert,
        run=run,
        trigger="manual",
        metric={"kind": "share", "name": "prediction", "value": "good"},
        window_start=run.window_start,
        window_end=run.window_end,
        baseline="reference",
        status=SliceAnalysis.Status.SUCCEEDED,
        requested_by=ds,
        finished_at=now,
    )
    batch_job = Job.objects.create(
        kind="serving.batch",
        subject_type="batch_job",
        subject_id=0,
        team=team,
        status=Job.Status.SUCCEEDED,
        progress=100,
        idempotency_key=f"matrix:{name}:batch",
        requested_by=ds,
    )
    batch = BatchJob.objects.create(
        submitted_by=ds,
        team=team,
        endpoint=live,
        environment="staging",
        deployment=primary,
        version=version,
        package=package,
        input_file=_store(f"matrix/{name}/batch-in.csv", FEATURES_CSV),
        input_filename=f"{name}-batch.csv",
        input_format="csv",
        row_count=len(FRAME),
        chunk_size=1000,
        chunks_total=1,
        chunks_done=1,
        rows_scored=len(FRAME),
        status=BatchJob.Status.SUCCEEDED,
        output_file=_store(f"matrix/{name}/batch-out.csv", FEATURES_CSV),
        job=batch_job,
        finished_at=now,
    )
    kpi = KpiDefinition.objects.create(
        name=f"{name} approval rate",
        model=model,
        endpoint=live.name,
        environment="staging",
        kind=KpiDefinition.Kind.SHARE,
        params={"condition": 'prediction == "good"'},
        unit=KpiDefinition.Unit.PERCENT,
        band_low=0.5,
        owner=ds,
        created_by=ds,
    )
    point = KpiPoint.objects.create(
        kpi=kpi,
        start=day_end - timedelta(days=1),
        end=day_end,
        value=0.2,
        computed_at=now,
    )
    kpi_alert = KpiAlert.objects.create(
        kpi=kpi,
        severity=KpiAlert.Severity.HIGH,
        first_seen=now,
        last_seen=now,
        latest_point=point,
        summary=f"{name} approval rate fell below its band",
    )
    advisory = world.objects[(None, "advisory")]
    library_finding = LibraryFinding.objects.create(
        version=version,
        package_build=package,
        advisory=advisory,
        package=f"{name}-lib",
        installed_version="1.0",
        osv_id=advisory.osv_id,
        severity="high",
        summary=f"a made-up hole in {name}-lib",
        fixed_version="1.1",
    )
    patch = PatchRequest.objects.create(
        version=version,
        package=f"{name}-lib",
        from_version="0.9",
        target_version="1.0",
        status=PatchRequest.Status.FAILED,
        approved_by=world.users["it"],
        error=f"{name}-lib 1.0 failed validation",
    )
    report = PipAuditReport.objects.create(
        name=f"{name} pip-audit",
        version=version,
        team=team,
        dependencies=[{"name": f"{name}-lib", "version": "1.0"}],
        raw={"dependencies": []},
        uploaded_by=ds,
    )
    exception = LibraryException.objects.create(
        rule=world.objects[(None, "library_rule")],
        team=team,
        expires_at=now + timedelta(days=30),
        reason=f"{name} needs leftpad a little longer",
        granted_by=world.users["it"],
    )
    endpoint_key = EndpointKey.objects.create(
        endpoint=live,
        name=f"{name} consumer",
        prefix="myk_matrix",
        key_hash=f"{name:4<64}"[:64],
        created_by=ds,
    )
    event = audit_record(actor=ds, action="model.registered", obj=model, team=team, name=model.name)
    objects["notice"] = Notice.objects.create(
        recipient=ds,
        kind=Notice.Kind.ALERT,
        title=f"{name}: {alert.summary}",
        url=f"/monitoring/alerts/{alert.pk}/",
    )
    objects.update(
        model=model,
        version=version,
        package=package,
        endpoint=live,
        endpoint_key=endpoint_key,
        deployment=waiting,
        monitor=monitor,
        check_run=run,
        finding=finding,
        alert=alert,
        analysis=analysis,
        job=job,
        batch_job=batch,
        kpi=kpi,
        kpi_alert=kpi_alert,
        library_finding=library_finding,
        patch=patch,
        pip_audit_report=report,
        library_exception=exception,
        audit_event=event,
    )
    assert set(objects) == set(TEAM_KINDS), sorted(set(objects) ^ set(TEAM_KINDS))
    for kind, obj in objects.items():
        world.objects[(name, kind)] = obj


def named_file(name: str, content: bytes) -> io.BytesIO:
    handle = io.BytesIO(content)
    handle.name = name
    return handle


def osv_advisory_json() -> bytes:
    """One OSV advisory, as IT would import it."""
    return json.dumps(
        {
            "id": "GHSA-mtrx-0002-0002",
            "modified": "2025-01-01T00:00:00Z",
            "summary": "another made-up advisory",
            "affected": [
                {
                    "package": {"ecosystem": "PyPI", "name": "leftpad"},
                    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0"}]}],
                }
            ],
        }
    ).encode()


def pip_audit_json() -> bytes:
    return json.dumps(
        {"dependencies": [{"name": "leftpad", "version": "1.0", "vulns": []}], "fixes": []}
    ).encode()
