"""Patch use cases: IT approves "upgrade X to Y" for one model version or every affected version;
a Celery task per version builds the patched environment, the patched version and its package,
and compares its predictions with the current version's. Every step is audited.

Where the patch is installed from: the package index pip is configured with, or, when
``MODELYARD_PATCH_FIND_LINKS`` names folders (``os.pathsep``-separated) and ``MODELYARD_PATCH_NO_INDEX``
is 1, those folders only (the tests' wheelhouse; an air-gapped site's mirror).
"""

import os
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from packaging.utils import canonicalize_name
from packaging.version import Version

from apps.accounts import access
from apps.accounts.roles import Role
from apps.core.audit import audit_record
from apps.jobs.services import job_enqueue
from apps.libraries.models import LibraryFinding, PatchRequest
from apps.libraries.patching import environments, lockpatch, parity
from apps.libraries.patching.notify import patch_notify
from apps.packaging import validation
from apps.packaging.models import PackageBuild, PackagingPolicy
from apps.packaging.sandbox.process import interpreter
from apps.packaging.scoring import sandbox_run
from apps.packaging.services import build_inputs_digest, package_build_run
from apps.registry import datasets
from apps.registry.models import ModelVersion

Step = Callable[[int, str], None]
# Findings a patch can still be approved for; a failed patch may be approved again.
APPROVABLE = (LibraryFinding.Status.OPEN, LibraryFinding.Status.FAILED)
LIVE_PATCH = (PatchRequest.Status.APPROVED, PatchRequest.Status.REVALIDATING, PatchRequest.Status.READY)


def tolerance() -> parity.Tolerance:
    """Prediction parity tolerance; settings LIBRARIES_PARITY_MIN_AGREEMENT / _MAX_DELTA override it."""
    return parity.Tolerance(
        min_agreement=float(
            getattr(settings, "LIBRARIES_PARITY_MIN_AGREEMENT", parity.DEFAULT_MIN_AGREEMENT)
        ),
        max_delta=float(getattr(settings, "LIBRARIES_PARITY_MAX_DELTA", parity.DEFAULT_MAX_DELTA)),
    )


# --- approval --------------------------------------------------------------------------------------


def _require_it(user) -> None:
    if not access.has_role(user, Role.IT_OPERATOR, Role.ADMIN):
        raise PermissionDenied("only an IT operator can approve a library patch")


def patch_approve(
    *,
    user,
    version_id: int,
    package: str,
    target_version: str = "",
    scope: str = PatchRequest.Scope.ONE,
    batch: uuid.UUID | None = None,
) -> PatchRequest:
    """Approve upgrading ``package`` to ``target_version`` (default: the findings' fixed version) in
    one model version, and queue the re-validation. Refused, with the reason, for a non-IT user, a
    version that no longer exists, a package without an open finding there, or a second approval."""
    _require_it(user)
    name = canonicalize_name(package or "")
    with transaction.atomic():
        version = ModelVersion.objects.select_related("model__team").filter(pk=version_id).first()
        if version is None:
            raise ValidationError(
                {"version": f"model version #{version_id} no longer exists: nothing to patch"}
            )
        findings = list(
            LibraryFinding.objects.select_for_update()
            .filter(version=version, package=name, report__isnull=True)
            .exclude(kind=LibraryFinding.Kind.UNPARSABLE)
            .order_by("id")
        )
        label = f"{version.model.name} v{version.number}"
        _refuse_twice(version, name, label)
        open_findings = [f for f in findings if f.status in APPROVABLE]
        if not open_findings:
            if findings:
                states = ", ".join(sorted({f.status for f in findings}))
                raise ValidationError({"package": f"{name} in {label} has no open finding (it is {states})"})
            raise ValidationError({"package": f"{label} has no finding for {name}"})
        installed = open_findings[0].installed_version
        target = _target(name, installed, target_version, open_findings)
        try:
            with transaction.atomic():
                patch = PatchRequest.objects.create(
                    version=version,
                    package=name,
                    from_version=installed,
                    target_version=target,
                    scope=scope,
                    batch=batch,
                    approved_by=user,
                )
        except IntegrityError as exc:  # a concurrent approval won the race
            raise ValidationError(
                {"package": f"{name} {installed} → {target} in {label} is already approved"}
            ) from exc
        patch.findings.set(open_findings)
        LibraryFinding.objects.filter(pk__in=[f.pk for f in open_findings]).update(
            status=LibraryFinding.Status.APPROVED
        )
        audit_record(
            actor=user,
            action="patch.approved",
            obj=patch,
            team=version.model.team,
            package=name,
            from_version=installed,
            target_version=target,
            scope=scope,
            advisories=sorted({f.osv_id for f in open_findings if f.osv_id}),
        )
        patch.job = _enqueue(patch, user)
        patch.save(update_fields=["job"])
    return patch


def patch_approve_all(*, user, package: str, target_version: str = "") -> list[PatchRequest]:
    """Approve the upgrade for every model version with an open finding for ``package``: one patch
    request (and one task) per version, sharing a batch id. Versions already approved are skipped
    and named; if none can be approved, the reason is raised."""
    _require_it(user)
    name = canonicalize_name(package or "")
    version_ids = sorted(
        set(
            LibraryFinding.objects.filter(
                package=name, status__in=APPROVABLE, version__isnull=False, report__isnull=True
            )
            .exclude(kind=LibraryFinding.Kind.UNPARSABLE)
            .values_list("version_id", flat=True)
        )
    )
    if not version_ids:
        raise ValidationError({"package": f"no model version has an open finding for {name}"})
    return _approve_many(user, [(v, name, target_version) for v in version_ids], PatchRequest.Scope.ALL)


def patch_approve_findings(*, user, finding_ids: list[int]) -> tuple[list[PatchRequest], list[str]]:
    """Bulk approval from the library page: each selected finding's version and package, upgraded
    to the fixed version (the highest fixed version among the selected findings of that package in
    that version). Returns the patch requests made and why the others were refused."""
    _require_it(user)
    findings = LibraryFinding.objects.filter(pk__in=finding_ids, report__isnull=True).select_related(
        "version"
    )
    wanted: dict[tuple[int, str], list[LibraryFinding]] = {}
    refused = [f"finding #{i} no longer exists" for i in sorted(set(finding_ids) - {f.pk for f in findings})]
    for finding in findings:
        if finding.version_id is None:
            refused.append(f"{finding.package}: its model version no longer exists")
            continue
        wanted.setdefault((finding.version_id, finding.package), []).append(finding)
    items = [
        (version_id, package, _highest_fix(group)) for (version_id, package), group in sorted(wanted.items())
    ]
    if not items and not refused:
        raise ValidationError({"findings": "select at least one finding"})
    made, more_refused = _approve_many(user, items, PatchRequest.Scope.ONE, collect=True)
    return made, refused + more_refused


def _approve_many(user, items, scope, collect: bool = False):
    batch = uuid.uuid4()
    made, refused = [], []
    for version_id, package, target in items:
        try:
            made.append(
                patch_approve(
                    user=user,
                    version_id=version_id,
                    package=package,
                    target_version=target,
                    scope=scope,
                    batch=batch,
                )
            )
        except ValidationError as exc:
            refused.extend(_messages(exc))
    if collect:
        return made, refused
    if not made:
        raise ValidationError({"package": refused})
    return made


def _refuse_twice(version: ModelVersion, package: str, label: str) -> None:
    live = (
        PatchRequest.objects.filter(version=version, package=package, status__in=LIVE_PATCH)
        .select_related("approved_by")
        .first()
    )
    if live is not None:
        who = live.approved_by.username if live.approved_by else "someone"
        raise ValidationError(
            {
                "package": f"{package} {live.from_version} → {live.target_version} in {label} was already "
                f"approved by {who} on {live.approved_at:%Y-%m-%d %H:%M} (patch #{live.pk}, {live.status})"
            }
        )


def _target(package: str, installed: str, asked: str, findings: list[LibraryFinding]) -> str:
    raw = (asked or "").strip() or _highest_fix(findings)
    if not raw:
        raise ValidationError(
            {"target_version": f"no fixed version of {package} is known: name the version to upgrade to"}
        )
    target = lockpatch.valid_version(raw)
    if target is None:
        raise ValidationError({"target_version": f"'{raw}' is not a valid version (PEP 440)"})
    current = lockpatch.valid_version(installed)
    if current is not None and Version(target) <= Version(current):
        raise ValidationError(
            {"target_version": f"{package} {target} is not an upgrade of the installed {installed}"}
        )
    return target


def _highest_fix(findings) -> str:
    fixes = [v for v in (lockpatch.valid_version(f.fixed_version) for f in findings if f.fixed_version) if v]
    return str(max(Version(v) for v in fixes)) if fixes else ""


def _messages(exc: ValidationError) -> list[str]:
    if hasattr(exc, "message_dict"):
        return [m for messages in exc.message_dict.values() for m in messages]
    return list(exc.messages)


def _enqueue(patch: PatchRequest, user):
    from apps.libraries.patching.tasks import run_patch

    return job_enqueue(
        kind="libraries.patch",
        subject_type="patchrequest",
        subject_id=patch.pk,
        idempotency_key=f"libraries.patch:{patch.pk}",
        send=lambda job_id: run_patch.delay(job_id),
        team=patch.version.model.team,
        requested_by=user,
    )


# --- the run (called by the task) -------------------------------------------------------------------


class PatchFailed(Exception):
    """Ends the run as failed; the message is shown with the patch request."""


def patch_run(*, patch: PatchRequest, step: Step) -> PatchRequest:
    """Patch, build, package, validate and compare; the patch request ends ready or failed. Safe to
    run again after a worker died: the patched version and its package are reused."""
    patch = PatchRequest.objects.select_related("version__model__team", "approved_by").get(pk=patch.pk)
    if patch.status not in (PatchRequest.Status.APPROVED, PatchRequest.Status.REVALIDATING):
        return patch  # already finished
    _set_status(patch, PatchRequest.Status.REVALIDATING, LibraryFinding.Status.REVALIDATING)
    details: dict = {"notes": []}
    root = Path(settings.VAR_DIR) / "patch-envs" / f"patch-{patch.pk}"
    try:
        _run(patch, step, details, root)
    except (PatchFailed, environments.EnvironmentError_) as exc:
        return _finish(patch, ok=False, error=str(exc), details=details)
    except Exception as exc:  # noqa: BLE001 - any failure must end the patch as failed, with why
        return _finish(patch, ok=False, error=f"{type(exc).__name__}: {exc}", details=details)
    finally:
        environments.remove_environment(root)
    return patch


def _run(patch: PatchRequest, step: Step, details: dict, root: Path) -> None:
    source = patch.version
    if source is None:
        raise PatchFailed("the model version was deleted after the approval")
    label = f"{source.model.name} v{source.number}"
    audit_record(actor=None, action="patch.revalidating", obj=patch, team=source.model.team)
    source_build = (
        source.packages.filter(status=PackageBuild.Status.SUCCEEDED).order_by("-created_at").first()
    )
    if source_build is None:
        raise PatchFailed(f"{label} has no successful package: there is no lock to patch")

    step(5, f"patching the lock: {patch.package} {patch.from_version} → {patch.target_version}")
    inputs = lockpatch.patch_inputs(
        environment=source.environment,
        requirements=source.requirements,
        package=patch.package,
        target=patch.target_version,
    )
    if not inputs.found_in:
        raise PatchFailed(f"{patch.package} is neither captured nor declared in {label}: nothing to pin")
    if inputs.conflicts:
        raise PatchFailed("the patch conflicts with the model's requirements: " + "; ".join(inputs.conflicts))
    locked = {e["name"]: e["version"] for e in source_build.lock_entries}

    offline, find_links = _install_source()
    step(10, f"building the current environment ({patch.package}=={patch.from_version}) with pip")
    current_env = environments.build_environment(
        root / "current", {patch.package: patch.from_version}, find_links=find_links, index=not offline
    )
    step(25, f"building the patched environment ({patch.package}=={patch.target_version}) with pip")
    patched_env = environments.build_environment(
        root / "patched", {patch.package: patch.target_version}, find_links=find_links, index=not offline
    )
    problems = environments.resolution_problems(patched_env, {patch.package: patch.target_version})
    if problems:
        raise PatchFailed("the patched environment is not what the lock says: " + "; ".join(problems))
    requirers, unchecked = _lock_requirers(patched_env, locked, patch.package)
    details["environment"] = {
        "resolved": patched_env.resolved,
        "install_output": patched_env.pip_output[-2000:],
        "requirements_checked": [f"{who}: {req}" for who, req in requirers],
    }
    details["notes"] += unchecked
    conflicts = lockpatch.requirement_conflicts(
        package=patch.package, target=patch.target_version, requirers=requirers
    )
    if conflicts:
        raise PatchFailed("the patch conflicts with the lock: " + "; ".join(conflicts))

    step(35, "registering the patched version")
    patched = _patched_version(patch, inputs)
    step(40, f"packaging v{patched.number} and validating it inside the patched environment")
    build = _package(patched, patched_env.python, step)
    patch.patched_lock = build.lock_text
    details["package"] = {
        "build": build.pk,
        "status": build.status,
        "validation_passed": build.validation_passed,
        "error": build.error,
        "lock_problems": build.lock_problems,
    }
    if build.status != PackageBuild.Status.SUCCEEDED:
        raise PatchFailed(f"the patched version could not be packaged: {build.error}")
    if build.validation_passed is False and source_build.validation_passed is not False:
        failing = [c["name"] for c in build.report.get("checks", []) if c["status"] == "fail"]
        raise PatchFailed(f"v{patched.number} failed validation ({', '.join(failing)}) where {label} passed")

    step(85, f"prediction parity: {label} in its environment against v{patched.number} in the patched one")
    report = _parity(source, current_env.python, patched, patched_env.python, details)
    details["parity"] = report.as_dict()
    if not report.passed:
        raise PatchFailed("prediction parity failed: " + "; ".join(report.reasons))
    _finish(patch, ok=True, error="", details=details)


def _install_source() -> tuple[bool, list[str]]:
    links = [p for p in os.environ.get("MODELYARD_PATCH_FIND_LINKS", "").split(os.pathsep) if p]
    return os.environ.get("MODELYARD_PATCH_NO_INDEX", "") == "1", links


def _lock_requirers(env: environments.BuiltEnvironment, locked: dict, package: str):
    """Requirements on ``package`` stated by the lock's packages, read from the environment's
    metadata where the installed copy is the locked version; the others are named as unchecked."""
    kept, unchecked = [], []
    for who, requirement in env.requirers:
        name, _, version = who.partition("==")
        if name == canonicalize_name(package):
            continue
        if name not in locked:
            continue  # the worker's own packages: not part of the model's lock
        if lockpatch.valid_version(version) != lockpatch.valid_version(locked[name]):
            unchecked.append(
                f"{name}=={locked[name]}'s requirements not checked: {version} is installed here"
            )
            continue
        kept.append((who, requirement))
    return kept, unchecked


@transaction.atomic
def _patched_version(patch: PatchRequest, inputs: lockpatch.PatchedInputs) -> ModelVersion:
    """A new version of the same model: same artifact and data, the patched environment and
    requirements, lineage to the version it patches. Reused if this run made it before."""
    if patch.resulting_version_id:
        return patch.resulting_version
    source = ModelVersion.objects.select_related("model__team").get(pk=patch.version_id)
    model = source.model.__class__.objects.select_for_update().get(pk=source.model_id)
    number = (model.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    lineage = f"patched from v{source.number}: {patch.package} {patch.from_version} → {patch.target_version}"
    copied = {
        field: getattr(source, field)
        for field in (
            "artifact",
            "artifact_filename",
            "artifact_sha256",
            "artifact_size",
            "framework",
            "format",
            "safe_format",
            "format_details",
            "input_schema",
            "output_schema",
            "schema_source",
            "reference_data",
            "reference_filename",
            "reference_sha256",
            "reference_format",
            "reference_rows",
            "target_column",
            "reference_profile",
            "holdout_data",
            "holdout_filename",
            "holdout_sha256",
            "validation_thresholds",
            "metrics",
            "code_commit",
            "data_uri",
        )
    }
    version = ModelVersion.objects.create(
        model=model,
        number=number,
        description=f"{lineage} (library patch #{patch.pk}). {source.description}".strip(),
        requirements=inputs.requirements,
        environment=inputs.environment,
        parent=source,
        created_by=patch.approved_by,
        **copied,
    )
    patch.resulting_version = version
    patch.save(update_fields=["resulting_version"])
    audit_record(
        actor=patch.approved_by,
        action="version.patched",
        obj=version,
        team=model.team,
        patch=patch.pk,
        lineage=lineage,
        parent=source.number,
    )
    return version


def _package(version: ModelVersion, python: str, step: Step) -> PackageBuild:
    """The normal package build, run here (a task never waits for another) with its sandbox on the
    patched environment's interpreter, so validation loads the model with the patched library."""
    build, _ = PackageBuild.objects.get_or_create(
        version=version,
        inputs_digest=build_inputs_digest(version, PackagingPolicy.current()),
        defaults={"requested_by": version.created_by},
    )
    if build.status == PackageBuild.Status.SUCCEEDED:
        return build

    def scaled(percent: int, message: str) -> None:
        step(40 + percent * 45 // 100, f"package: {message}")

    with interpreter(python):
        return package_build_run(build=build, step=scaled)


def _parity(source: ModelVersion, source_python: str, patched: ModelVersion, patched_python: str, details):
    """Score the reference sample with the current version in its own environment and with the
    patched version in the patched one. Should the current version not load in its environment
    (an old pin that no longer imports beside today's other packages), the worker's is used, and
    the note says so."""
    sample = _sample(source)
    policy = PackagingPolicy.current()
    with tempfile.TemporaryDirectory(prefix="modelyard-parity-") as tmp:
        sample_path = Path(tmp) / "sample.pkl"
        sample.to_pickle(sample_path)
        current = sandbox_run(source, sample_path, policy=policy, python=source_python)
        if not current.get("ok"):
            details["notes"].append(
                f"v{source.number} could not be scored in its own environment ({current.get('error')}); "
                "it was scored in the worker's environment instead"
            )
            current = sandbox_run(source, sample_path, policy=policy)
        if not current.get("ok"):
            raise PatchFailed(f"v{source.number} could not be scored for comparison: {current.get('error')}")
        patched_response = sandbox_run(patched, sample_path, policy=policy, python=patched_python)
        if not patched_response.get("ok"):
            error = patched_response.get("error")
            raise PatchFailed(f"v{patched.number} could not be scored in the patched environment: {error}")
    return parity.compare(current, patched_response, tolerance())


def _sample(version: ModelVersion) -> pd.DataFrame:
    schema = version.input_schema
    if not version.reference_sha256:
        return validation.synthetic_sample(schema)
    with version.reference_data.open("rb") as handle:
        frame, _ = datasets.read_table(handle, version.reference_filename)
    return validation.reference_sample(frame, schema)


# --- state -----------------------------------------------------------------------------------------


def _set_status(patch: PatchRequest, status: str, finding_status: str) -> None:
    patch.status = status
    patch.save(update_fields=["status"])
    patch.findings.update(status=finding_status)


def _finish(patch: PatchRequest, *, ok: bool, error: str, details: dict) -> PatchRequest:
    patch.status = PatchRequest.Status.READY if ok else PatchRequest.Status.FAILED
    patch.error = error
    patch.differences = details
    patch.finished_at = timezone.now()
    patch.save(update_fields=["status", "error", "differences", "finished_at", "patched_lock"])
    patch.findings.update(status=LibraryFinding.Status.READY if ok else LibraryFinding.Status.FAILED)
    team = patch.version.model.team if patch.version else None
    resulting = patch.resulting_version
    audit_record(
        actor=None,
        action="patch.ready" if ok else "patch.failed",
        obj=patch,
        team=team,
        resulting_version=resulting.number if resulting else None,
        error=error,
        parity=(details.get("parity") or {}).get("reasons"),
    )
    patch_notify(patch=patch, event="library.patch.ready" if ok else "library.patch.failed")
    return patch


def patch_sync_deployed() -> int:
    """Ready patches whose patched version went live through the normal approval become deployed,
    with their findings. Returns how many changed. Called by the library pages (cheap: one query
    when nothing changed)."""
    from apps.deployments.models import Deployment

    live = Deployment.objects.filter(status=Deployment.Status.LIVE).values("version_id")
    changed = 0
    for patch in PatchRequest.objects.filter(status=PatchRequest.Status.READY, resulting_version__in=live):
        patch.status = PatchRequest.Status.DEPLOYED
        patch.save(update_fields=["status"])
        patch.findings.update(status=LibraryFinding.Status.DEPLOYED)
        audit_record(
            actor=None,
            action="patch.deployed",
            obj=patch,
            team=patch.version.model.team if patch.version else None,
            resulting_version=patch.resulting_version_id,
        )
        changed += 1
    return changed
