"""Package builds: validate in the sandbox, lock, scaffold, archive. Called by the task, API and pages."""

import hashlib
import io
import json
import platform
import tempfile
from pathlib import Path

import pandas as pd
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from apps.accounts import access
from apps.accounts.roles import Role
from apps.core.audit import audit_record
from apps.jobs.services import job_enqueue
from apps.packaging import validation
from apps.packaging.bundle.archive import build_archive
from apps.packaging.bundle.card import render_model_card
from apps.packaging.bundle.lock import build_lock
from apps.packaging.bundle.sbom import build_sbom
from apps.packaging.bundle.scaffold import render_scaffold
from apps.packaging.environment_check import check_lock_provides, model_modules
from apps.packaging.gates import lock_refusal
from apps.packaging.models import PackageBuild, PackagingPolicy
from apps.packaging.scoring import sandbox_run
from apps.registry import datasets
from apps.registry.models import ModelVersion
from apps.registry.storage import store_by_hash

# Bump when the build's output changes for the same inputs, so old digests are not reused.
BUILDER_VERSION = "1"
LOADER_SOURCE = Path(__file__).parent / "sandbox" / "loaders.py"


def _policy_fingerprint(policy: PackagingPolicy) -> dict:
    return {
        "skops_trusted_types": sorted(policy.skops_trusted_types),
        "latency_budget_ms_per_row": policy.latency_budget_ms_per_row,
    }


def previous_version(version: ModelVersion) -> ModelVersion | None:
    """The version this one is compared with: its declared parent, else the one numbered before it."""
    if version.parent_id:
        return version.parent
    return version.model.versions.filter(number__lt=version.number).order_by("-number").first()


def build_inputs_digest(version: ModelVersion, policy: PackagingPolicy) -> str:
    previous = previous_version(version)
    inputs = {
        "builder": BUILDER_VERSION,
        "artifact": version.artifact_sha256,
        "format": version.format,
        "reference": version.reference_sha256,
        "holdout": version.holdout_sha256,
        "thresholds": version.validation_thresholds,
        "schema": version.input_schema,
        "outputs": version.output_schema,
        "environment": version.environment,
        "requirements": version.requirements,
        "previous": previous.artifact_sha256 if previous else None,
        "policy": _policy_fingerprint(policy),
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def package_build_enqueue(*, version: ModelVersion, user=None) -> PackageBuild:
    """Queue a build once per set of inputs. Asking again returns the same build; a build that
    failed (the model did not load or score) is queued again."""
    from apps.packaging.tasks import build_package

    digest = build_inputs_digest(version, PackagingPolicy.current())
    build, created = PackageBuild.objects.get_or_create(
        version=version, inputs_digest=digest, defaults={"requested_by": _user_or_none(user)}
    )
    attempt = 0
    if not created and build.status == PackageBuild.Status.FAILED:
        attempt = _failed_job_count(build)  # a fresh job key: the failed job stays as it was
        PackageBuild.objects.filter(pk=build.pk).update(status=PackageBuild.Status.QUEUED, error="")
        build.refresh_from_db()
    job_enqueue(
        kind="packaging.build",
        subject_type="package",
        subject_id=build.pk,
        idempotency_key=f"packaging.build:{build.pk}:{attempt}",
        send=lambda job_id: build_package.delay(job_id),
        team=version.model.team,
        requested_by=user,
    )
    return build


def _failed_job_count(build: PackageBuild) -> int:
    from apps.jobs.models import Job

    return Job.objects.filter(subject_type="package", subject_id=build.pk, status=Job.Status.FAILED).count()


def _user_or_none(user):
    return user if user is not None and user.is_authenticated else None


def _read(field_file, filename: str) -> pd.DataFrame:
    with field_file.open("rb") as handle:
        frame, _ = datasets.read_table(handle, filename)
    return frame


def _run(
    version: ModelVersion, frame: pd.DataFrame, nulls: pd.DataFrame | None, policy, folder: Path
) -> dict:
    sample_path = folder / f"sample-{version.pk}.pkl"
    frame.to_pickle(sample_path)
    null_path = None
    if nulls is not None:
        null_path = folder / f"nulls-{version.pk}.pkl"
        nulls.to_pickle(null_path)
    return sandbox_run(version, sample_path, policy=policy, null_path=null_path, repeats=3)


def validate_version(version: ModelVersion, policy: PackagingPolicy, step) -> validation.Report:
    """Load and score the version (and its predecessor) in the sandbox and judge the answers."""
    schema = version.input_schema
    if version.reference_sha256:
        sample = validation.reference_sample(
            _read(version.reference_data, version.reference_filename), schema
        )
    else:
        sample = validation.synthetic_sample(schema)
    scored = sample
    labels = None
    if version.holdout_sha256:
        holdout = _read(version.holdout_data, version.holdout_filename)
        labels = holdout[version.target_column].reset_index(drop=True)
        scored = pd.concat([sample, holdout[validation.feature_names(schema)]], ignore_index=True)
    with tempfile.TemporaryDirectory(prefix="modelyard-validate-") as tmp:
        step(20, f"loading {version.artifact_filename} in the sandbox and scoring {len(scored)} rows")
        response = _run(version, scored, validation.null_sample(sample, schema), policy, Path(tmp))
        previous, previous_predictions, note = previous_version(version), None, ""
        if previous is None:
            note = "this is the first version"
        elif set(validation.feature_names(previous.input_schema)) - set(sample.columns):
            note = f"v{previous.number} needs features this version's sample does not have"
        elif response.get("ok"):
            step(50, f"scoring the same rows with v{previous.number} for comparison")
            prior = _run(
                previous, sample[validation.feature_names(previous.input_schema)], None, policy, Path(tmp)
            )
            if prior.get("ok"):
                previous_predictions = prior["predictions"]
            else:
                note = f"v{previous.number} could not be scored: {prior.get('error')}"
    return validation.evaluate(
        response=response,
        sample_rows=len(sample),
        output_schema=version.output_schema,
        task_type=version.model.task_type,
        latency_budget_ms=policy.latency_budget_ms_per_row,
        holdout_labels=labels,
        thresholds=version.validation_thresholds,
        previous_predictions=previous_predictions,
        previous_note=note,
    )


def _stable_report(report: dict) -> dict:
    """The report as packaged: timings vary from run to run, so they stay out of the archive,
    which must have the same digest for the same inputs."""
    checks = [
        {"name": c["name"], "status": c["status"], "threshold": c["threshold"]}
        | (
            {"value": c["value"]}
            if c["name"].startswith("holdout") or c["name"].startswith("changed")
            else {}
        )
        for c in report["checks"]
    ]
    return {**report, "checks": checks}


def _package_files(version: ModelVersion, lock, report: dict, policy) -> dict[str, bytes]:
    model = version.model
    with version.artifact.open("rb") as handle:
        artifact = handle.read()
    scaffold = render_scaffold(
        model_name=model.name,
        version_number=version.number,
        artifact_filename=version.artifact_filename,
        fmt=version.format,
        mlflow_root=version.format_details.get("root", ""),
        input_schema=version.input_schema,
        output_schema=version.output_schema,
        trusted_types=list(policy.skops_trusted_types),
        lock=lock,
    )
    card = render_model_card(
        model={
            "name": model.name,
            "description": model.description,
            "team": model.team.name,
            "business_owner": model.business_owner.username if model.business_owner else "",
            "task_type": model.task_type,
        },
        version={
            "number": version.number,
            "framework": version.framework,
            "format": version.format,
            "safe_format": version.safe_format,
            "input_schema": version.input_schema,
            "output_schema": version.output_schema,
            "metrics": version.metrics,
            "artifact_sha256": version.artifact_sha256,
            "environment": version.environment,
        },
        validation=_stable_report(report),
        lock=lock,
    )
    files = {name: text.encode() for name, text in scaffold.items()}
    files.update(
        {
            version.artifact_filename: artifact,
            "model_loader.py": LOADER_SOURCE.read_bytes(),
            "MODEL_CARD.md": card.encode(),
            "sbom.cdx.json": build_sbom(
                model_name=model.name,
                model_version=version.number,
                lock=lock,
                artifact_sha256=version.artifact_sha256,
                timestamp=version.created_at,
            ).encode(),
            "validation.json": json.dumps(_stable_report(report), indent=2, sort_keys=True).encode(),
        }
    )
    return files


def package_build_run(*, build: PackageBuild, step) -> PackageBuild:
    """Do the build. ``step(percent, message)`` reports progress. Safe to run again: the archive
    is stored by content hash and the same row is updated."""
    build.refresh_from_db()
    if build.status == PackageBuild.Status.SUCCEEDED:
        # A redelivered message (the worker died after the build was stored): nothing to redo.
        return build
    version = ModelVersion.objects.select_related("model__team", "model__business_owner").get(
        pk=build.version_id
    )
    policy = PackagingPolicy.current()
    PackageBuild.objects.filter(pk=build.pk).update(status=PackageBuild.Status.RUNNING)

    step(5, "locking the environment")
    env = version.environment or {}
    lock = build_lock(
        python=env.get("python") or platform.python_version(),
        packages=env.get("packages") or {},
        declared=version.requirements,
    )
    # The registered gates (IT's library policy: a blocked library, or one below its minimum) stop
    # the build here.
    refusal = lock_refusal(team=version.model.team, packages=[(e.name, e.version) for e in lock.entries])
    if refusal is not None:
        build.lock_text, build.lock_problems = lock.text, list(lock.problems)
        return package_build_fail(build=build, error=refusal, action="package.refused")
    checked = validate_version(version, policy, step)
    check_lock_provides(
        checked,
        modules=model_modules(fmt=version.format, details=version.format_details or {}, environment=env),
        locked=[e.name for e in lock.entries],
        environment=env,
    )
    report = checked.as_dict()
    build.report = report
    build.lock_text = lock.text
    build.lock_entries = [{"name": e.name, "version": e.version, "source": e.source} for e in lock.entries]
    build.lock_problems = list(lock.problems)
    build.validation_passed = report["passed"]
    scoring = ("loads", "predicts on the reference sample", "predict runs")
    failing = next((c for c in report["checks"] if c["name"] in scoring and c["status"] == "fail"), None)
    if failing is not None:  # the model cannot be loaded or cannot score: there is nothing to package
        return package_build_fail(build=build, error=f"{failing['name']}: {failing['detail']}")

    step(70, "writing the scaffold, model card, lockfile and SBOM")
    data, _manifest = build_archive(
        _package_files(version, lock, report, policy), root=f"{version.model.name}-v{version.number}"
    )
    step(90, "storing the package")
    stored = store_by_hash(
        io.BytesIO(data), kind="packages", filename=f"{version.model.name}-v{version.number}.tar.gz"
    )
    build.archive = stored.path
    build.archive_sha256 = stored.sha256
    build.archive_size = stored.size
    build.status = PackageBuild.Status.SUCCEEDED
    build.error = ""
    build.finished_at = timezone.now()
    build.save()
    audit_record(
        actor=None,
        action="package.built",
        obj=build,
        team=version.model.team,
        archive_sha256=stored.sha256,
        validation_passed=report["passed"],
    )
    return build


def package_build_fail(*, build: PackageBuild, error: str, action: str = "package.failed") -> PackageBuild:
    """End a build as failed, with what it has filled in so far, and audit it. Also for a build that
    stopped on something unexpected, so it never stays 'running'; a new request builds it again."""
    build.status, build.error, build.finished_at = PackageBuild.Status.FAILED, error, timezone.now()
    build.save()
    audit_record(actor=None, action=action, obj=build, team=build.version.model.team, error=error)
    return build


@transaction.atomic
def package_override(*, user, build: PackageBuild, reason: str) -> PackageBuild:
    """An IT operator accepts a package whose validation failed, with a written reason."""
    if not access.has_role(user, Role.IT_OPERATOR, Role.ADMIN):
        raise PermissionDenied("only an IT operator can override a failed validation")
    reason = (reason or "").strip()
    if len(reason) < 10:
        raise ValidationError(
            {"reason": "write why the failed validation is acceptable (at least 10 characters)"}
        )
    build = PackageBuild.objects.select_for_update().get(pk=build.pk)
    if build.status != PackageBuild.Status.SUCCEEDED:
        raise ValidationError({"package": "there is no package to accept: the build did not produce one"})
    if build.validation_passed:
        raise ValidationError({"package": "this package passed validation; there is nothing to override"})
    if build.override_at is not None:
        raise ValidationError(
            {"package": f"already overridden by {build.override_by} on {build.override_at:%Y-%m-%d}"}
        )
    build.override_by, build.override_reason, build.override_at = user, reason, timezone.now()
    build.save(update_fields=["override_by", "override_reason", "override_at"])
    audit_record(
        actor=user,
        action="package.validation_overridden",
        obj=build,
        team=build.version.model.team,
        reason=reason,
    )
    return build


def production_blocker(version: ModelVersion) -> str | None:
    """Why this version may not go to production yet, or None."""
    build = version.packages.filter(status=PackageBuild.Status.SUCCEEDED).order_by("-created_at").first()
    if build is None:
        return f"v{version.number} has no package yet; build one and let it validate first"
    if not build.deployable_to_production:
        return f"v{version.number}'s validation failed; an IT operator can override it with a written reason"
    return None
