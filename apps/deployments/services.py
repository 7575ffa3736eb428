"""Deployments: request, approve, roll out, promote, roll back. Every step is audited; nothing here
ever acts on its own — monitoring may suggest a rollback, a person performs it."""

import io
import os
import shutil
import tarfile
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from apps.accounts import access
from apps.accounts.roles import Role
from apps.core.audit import audit_record
from apps.deployments.models import Deployment, Endpoint, EndpointKey, Environment
from apps.jobs.services import job_enqueue
from apps.notices.models import Notice
from apps.notices.services import notices_send
from apps.packaging.bundle.archive import verify_archive
from apps.packaging.models import PackageBuild
from apps.packaging.services import production_blocker
from apps.registry.models import ModelVersion
from apps.serving.inference.keys import generate_key, hash_key

LIVE = Deployment.Status.LIVE
ENDPOINT_NAME_MAX = Endpoint._meta.get_field("name").max_length


def environment_named(name: str) -> Environment:
    env = Environment.objects.filter(name=name).first()
    if env is None:
        known = ", ".join(Environment.objects.values_list("name", flat=True))
        raise ValidationError({"environment": f"'{name}' is not an environment; use one of {known}"})
    return env


def _may_operate(user, endpoint_or_model_team, environment: Environment) -> bool:
    """IT operates every endpoint; a team operates its own outside environments needing approval."""
    if access.has_role(user, Role.IT_OPERATOR, Role.ADMIN):
        return True
    return (
        not environment.requires_approval
        and access.has_role(user, Role.DATA_SCIENTIST)
        and user.teams.filter(pk=endpoint_or_model_team.pk).exists()
    )


def _latest_package(version: ModelVersion) -> PackageBuild:
    build = version.packages.filter(status=PackageBuild.Status.SUCCEEDED).order_by("-created_at").first()
    if build is None:
        raise ValidationError(
            {"version": f"v{version.number} has no package yet; wait for its build to finish"}
        )
    return build


def _endpoint_for(*, user, version: ModelVersion, name: str, environment: Environment) -> Endpoint:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"endpoint": "name the endpoint, e.g. credit-risk"})
    endpoint = Endpoint.objects.filter(environment=environment, name=name).first()
    if endpoint is None:
        if slugify(name) != name or len(name) > ENDPOINT_NAME_MAX:
            raise ValidationError(
                {
                    "endpoint": f"'{name[:120]}' is not an endpoint name: use lower-case letters, digits, "
                    f"'-' and '_', starting and ending with a letter or digit, at most {ENDPOINT_NAME_MAX} "
                    "characters (it becomes part of the prediction URL)"
                }
            )
        return Endpoint.objects.create(
            environment=environment, name=name, team=version.model.team, created_by=user
        )
    if endpoint.team_id != version.model.team_id:
        # Names are unique per environment; whose it is stays unsaid (another team's or not).
        raise ValidationError(
            {"endpoint": f"the endpoint name '{name}' is not available in {environment}; choose another"}
        )
    return endpoint


@transaction.atomic
def deployment_request(
    *,
    user,
    version: ModelVersion,
    endpoint: str,
    environment: str = "staging",
    strategy: str = "direct",
    percent: float | None = None,
) -> Deployment:
    """Ask for a version to serve behind an endpoint. Environments that require approval wait for
    an IT operator; the others roll out at once."""
    from apps.deployments.selectors import deployments_visible_to  # selectors import this module

    if not access.can_edit_model(user, version.model) and not access.has_role(user, Role.IT_OPERATOR):
        raise PermissionDenied("only the owning team or IT may deploy this model")
    env = environment_named(environment)
    if strategy not in Deployment.Strategy.values:
        raise ValidationError(
            {"strategy": f"'{strategy}' is not one of {', '.join(Deployment.Strategy.values)}"}
        )
    package = _latest_package(version)
    if env.name == "production" or env.requires_approval:
        blocker = production_blocker(version)
        if blocker:
            raise ValidationError({"version": blocker})
    target = _endpoint_for(user=user, version=version, name=endpoint, environment=env)
    role = {
        "direct": Deployment.Role.PRIMARY,
        "canary": Deployment.Role.CANARY,
        "shadow": Deployment.Role.SHADOW,
    }[strategy]
    if strategy == "canary" and (percent is None or not 0 < float(percent) < 100):
        raise ValidationError({"percent": "a canary takes a share of traffic between 0 and 100 (exclusive)"})
    percent = float(percent) if strategy == "canary" else (0.0 if strategy == "shadow" else 100.0)
    if (
        role != Deployment.Role.PRIMARY
        and not target.deployments.filter(status=LIVE, role="primary").exists()
    ):
        raise ValidationError(
            {"strategy": f"{strategy} needs a live version on '{target.name}' to compare with"}
        )
    deployment = Deployment.objects.create(
        endpoint=target,
        version=version,
        package=package,
        strategy=strategy,
        role=role,
        traffic_percent=percent,
        status=Deployment.Status.PENDING_APPROVAL if env.requires_approval else Deployment.Status.ROLLING_OUT,
        requested_by=user,
    )
    audit_record(
        actor=user,
        action="deployment.requested",
        obj=deployment,
        team=version.model.team,
        endpoint=target.name,
        environment=env.name,
        strategy=strategy,
        percent=percent,
    )
    if not env.requires_approval:
        deployment_rollout_enqueue(deployment=deployment, user=user)
    else:
        notices_send(
            recipients=access.users_with_role(Role.IT_OPERATOR),
            kind=Notice.Kind.APPROVAL,
            event="deployment.requested",
            title=f"approval waiting: {version.model.name} v{version.number} to {target.name} ({env.name}), "
            f"asked by {user.get_username()}",
            body=f"{user.get_username()} asks to deploy {version.model.name} v{version.number} behind "
            f"{target.name} in {env.name} ({strategy}). Approve or reject it on the deployments page.",
            url=reverse("deployments:overview"),
            obj=deployment,
            visible=deployments_visible_to,
            exclude=user,
        )
    return deployment


def _decide(*, user, deployment: Deployment, approve: bool, reason: str) -> Deployment:
    from apps.deployments.selectors import deployments_visible_to  # selectors import this module

    if not access.has_role(user, Role.IT_OPERATOR, Role.ADMIN):
        raise PermissionDenied("only an IT operator may approve or reject a deployment")
    deployment = Deployment.objects.select_for_update().select_related("version__model").get(pk=deployment.pk)
    if deployment.status != Deployment.Status.PENDING_APPROVAL:
        raise ValidationError(
            {"deployment": f"this deployment is {deployment.status}, not waiting for approval"}
        )
    if not approve and len((reason or "").strip()) < 5:
        raise ValidationError({"reason": "say why the deployment is rejected"})
    deployment.status = Deployment.Status.ROLLING_OUT if approve else Deployment.Status.REJECTED
    deployment.decided_by, deployment.decided_at, deployment.decision_reason = (
        user,
        timezone.now(),
        reason or "",
    )
    deployment.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
    audit_record(
        actor=user,
        action="deployment.approved" if approve else "deployment.rejected",
        obj=deployment,
        team=deployment.version.model.team,
        reason=reason or "",
    )
    if approve:
        deployment_rollout_enqueue(deployment=deployment, user=user)
    version = deployment.version
    notices_send(
        recipients=[deployment.requested_by],
        kind=Notice.Kind.OUTCOME,
        event=f"deployment.{'approved' if approve else 'rejected'}",
        title=f"your deployment of {version.model.name} v{version.number} was "
        f"{'approved' if approve else 'rejected'} by {user.get_username()}",
        body=reason or "",
        url=reverse("deployments:overview"),
        obj=deployment,
        visible=deployments_visible_to,
        exclude=user,
    )
    return deployment


@transaction.atomic
def deployment_approve(*, user, deployment: Deployment, reason: str = "") -> Deployment:
    return _decide(user=user, deployment=deployment, approve=True, reason=reason)


@transaction.atomic
def deployment_reject(*, user, deployment: Deployment, reason: str) -> Deployment:
    return _decide(user=user, deployment=deployment, approve=False, reason=reason)


def deployment_rollout_enqueue(*, deployment: Deployment, user=None):
    from apps.deployments.tasks import rollout

    return job_enqueue(
        kind="deployments.rollout",
        subject_type="deployment",
        subject_id=deployment.pk,
        idempotency_key=f"deployments.rollout:{deployment.pk}",
        send=lambda job_id: rollout.delay(job_id),
        team=deployment.endpoint.team,
        requested_by=user,
    )


def unpack_package(build: PackageBuild) -> Path:
    """Unpack a package once, by content hash, after checking its manifest. Like every stored
    file, readable by this user only: folders 700, files 600 (700 for the package's scripts)."""
    root = Path(settings.VAR_DIR) / "deployments"
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    root.chmod(0o700)  # also for packages unpacked before their files were made private
    folder = root / build.archive_sha256
    if (folder / ".complete").exists():
        return folder
    data = build.archive.open("rb").read()
    problems = verify_archive(data)
    if problems:
        raise ValueError(f"the package does not verify: {'; '.join(problems[:3])}")
    partial = folder.with_name(folder.name + f".partial-{timezone.now().timestamp()}")
    partial.mkdir(mode=0o700)
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        archive.extractall(partial, filter=_owner_only)
    for inner, _dirs, _files in os.walk(partial):  # folders the archive does not list are made too
        os.chmod(inner, 0o700)
    roots = [p for p in partial.iterdir() if p.is_dir()]
    if len(roots) != 1:
        raise ValueError("the package must hold exactly one top folder")
    if folder.exists():  # another worker unpacked it meanwhile
        shutil.rmtree(partial)
    else:
        roots[0].rename(folder)
        (folder / ".complete").touch(mode=0o600)
        partial.rmdir()
    return folder


def _owner_only(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo:
    """tarfile's "data" filter, with no permission for group or others."""
    member = tarfile.data_filter(member, path)
    return member.replace(mode=member.mode & 0o700, deep=False)


@transaction.atomic
def _go_live(deployment: Deployment, package_dir: Path, actor=None) -> Deployment:
    deployment = (
        Deployment.objects.select_for_update()
        .select_related("endpoint", "version__model")
        .get(pk=deployment.pk)
    )
    if deployment.status == LIVE:
        return deployment
    live = Deployment.objects.select_for_update().filter(endpoint=deployment.endpoint, status=LIVE)
    # A direct deployment replaces everything on the endpoint; a canary or shadow replaces its kind.
    replaced = live if deployment.role == Deployment.Role.PRIMARY else live.filter(role=deployment.role)
    now = timezone.now()
    for old in replaced:
        old.status, old.retired_at = Deployment.Status.RETIRED, now
        old.save(update_fields=["status", "retired_at"])
    deployment.status, deployment.live_at, deployment.package_dir = LIVE, now, str(package_dir)
    deployment.save(update_fields=["status", "live_at", "package_dir"])
    audit_record(
        actor=actor,
        action="deployment.live",
        obj=deployment,
        team=deployment.version.model.team,
        endpoint=deployment.endpoint.name,
        environment=deployment.endpoint.environment.name,
        role=deployment.role,
        percent=deployment.traffic_percent,
        replaced=[d.pk for d in replaced],
    )
    _tell_requester(deployment, "is live", f"behind {deployment.endpoint.name}")
    return deployment


def _tell_requester(deployment: Deployment, what: str, body: str = "") -> None:
    """How a person's own deployment request ended, in their notices."""
    from apps.deployments.selectors import deployments_visible_to  # selectors import this module

    version = deployment.version
    notices_send(
        recipients=[deployment.requested_by],
        kind=Notice.Kind.OUTCOME,
        event="deployment." + what.split()[-1],
        title=f"your deployment of {version.model.name} v{version.number} {what}",
        body=body,
        url=reverse("deployments:overview"),
        obj=deployment,
        visible=deployments_visible_to,
    )


def deployment_rollout_run(*, deployment: Deployment, step) -> Deployment:
    step(10, "verifying and unpacking the package")
    try:
        folder = unpack_package(deployment.package)
    except (ValueError, OSError, tarfile.TarError) as exc:
        Deployment.objects.filter(pk=deployment.pk).update(status=Deployment.Status.FAILED, error=str(exc))
        _tell_requester(deployment, "failed", str(exc))
        raise
    step(80, "switching traffic")
    return _go_live(deployment, folder)


def _new_primary(endpoint: Endpoint, source: Deployment, user, reason: str) -> Deployment:
    """A new primary row for a package already unpacked on this endpoint: history keeps both."""
    return Deployment.objects.create(
        endpoint=endpoint,
        version=source.version,
        package=source.package,
        strategy=Deployment.Strategy.DIRECT,
        role=Deployment.Role.PRIMARY,
        traffic_percent=100.0,
        status=Deployment.Status.ROLLING_OUT,
        requested_by=user,
        decided_by=user,
        decided_at=timezone.now(),
        decision_reason=reason,
    )


@transaction.atomic
def endpoint_promote(*, user, endpoint: Endpoint, reason: str = "") -> Deployment:
    """The live canary (or, failing that, the shadow) becomes the primary, taking all traffic."""
    if not _may_operate(user, endpoint.team, endpoint.environment):
        raise PermissionDenied("only IT (or the owning team outside production) may promote")
    candidate = (
        endpoint.deployments.filter(status=LIVE, role__in=["canary", "shadow"])
        .order_by("role", "-live_at")
        .first()
    )
    if candidate is None:
        raise ValidationError({"endpoint": f"'{endpoint.name}' has no live canary or shadow to promote"})
    promoted = _new_primary(endpoint, candidate, user, reason or f"promoted from {candidate.role}")
    audit_record(actor=user, action="deployment.promoted", obj=promoted, team=endpoint.team, reason=reason)
    return _go_live(promoted, Path(candidate.package_dir), actor=user)


@transaction.atomic
def endpoint_rollback(*, user, endpoint: Endpoint, reason: str = "") -> Deployment:
    """Put back the primary that served before the current one. A person's decision, audited."""
    if not _may_operate(user, endpoint.team, endpoint.environment):
        raise PermissionDenied("only IT (or the owning team outside production) may roll back")
    current = endpoint.deployments.filter(status=LIVE, role="primary").first()
    previous = (
        endpoint.deployments.filter(role="primary", status=Deployment.Status.RETIRED)
        .exclude(version_id=current.version_id if current else None)
        .order_by("-live_at")
        .first()
    )
    if previous is None:
        raise ValidationError({"endpoint": f"'{endpoint.name}' has no earlier version to roll back to"})
    restored = _new_primary(endpoint, previous, user, reason or "rollback")
    audit_record(
        actor=user,
        action="deployment.rolled_back",
        obj=restored,
        team=endpoint.team,
        reason=reason,
        from_version=current.version.number if current else None,
        to_version=previous.version.number,
    )
    return _go_live(restored, Path(previous.package_dir), actor=user)


@transaction.atomic
def deployment_retire(*, user, deployment: Deployment, reason: str) -> Deployment:
    """Stop a live deployment: it answers (or shadows) no more requests. A person's decision with a
    written reason, audited; the version's stage is left as it is."""
    deployment = (
        Deployment.objects.select_for_update()
        .select_related("endpoint__environment", "endpoint__team", "version__model")
        .get(pk=deployment.pk)
    )
    endpoint = deployment.endpoint
    if not _may_operate(user, endpoint.team, endpoint.environment):
        raise PermissionDenied("only IT (or the owning team outside production) may retire a deployment")
    if deployment.status != LIVE:
        raise ValidationError({"deployment": f"this deployment is {deployment.status}, not live"})
    if len((reason or "").strip()) < 5:
        raise ValidationError({"reason": "say why the deployment is retired"})
    deployment.status, deployment.retired_at = Deployment.Status.RETIRED, timezone.now()
    deployment.save(update_fields=["status", "retired_at"])
    audit_record(
        actor=user,
        action="deployment.retired",
        obj=deployment,
        team=deployment.version.model.team,
        reason=reason,
        endpoint=endpoint.name,
        environment=endpoint.environment.name,
        role=deployment.role,
    )
    return deployment


def may_configure_endpoint(user, endpoint: Endpoint) -> bool:
    """The endpoint's own team's data scientists and IT change how it checks requests."""
    return may_manage_keys(user, endpoint)


_REFUSING = (Deployment.Status.PENDING_APPROVAL, Deployment.Status.ROLLING_OUT, LIVE)


def _features_with_a_range(endpoint: Endpoint) -> tuple[dict[str, dict], str]:
    """(name → schema entry, which versions they come from): the input features of the versions
    live or on their way on the endpoint (the latest one deployed when none is)."""
    deployments = list(endpoint.deployments.filter(status__in=_REFUSING).select_related("version__model"))
    if not deployments:
        deployments = list(endpoint.deployments.select_related("version__model").order_by("-created_at")[:1])
    features: dict[str, dict] = {}
    for deployment in deployments:
        for feature in deployment.version.input_schema.get("features", []):
            if isinstance(feature, dict) and "name" in feature:
                features.setdefault(str(feature["name"]), feature)
    versions = sorted({f"{d.version.model.name} v{d.version.number}" for d in deployments})
    return features, ", ".join(versions) or "none deployed"


def _has_range(feature: dict) -> bool:
    if feature.get("type") in ("number", "integer"):
        return feature.get("min") is not None or feature.get("max") is not None
    return feature.get("type") == "categorical" and bool(feature.get("categories"))


@transaction.atomic
def endpoint_outside_range_set(*, user, endpoint: Endpoint, features: list[str]) -> Endpoint:
    """Which features of ``endpoint`` refuse values outside the schema's min-max or categories (a
    422) instead of scoring and counting them. Each must be a feature, with a range or categories,
    of a version live or on its way there. Audited; the inference service applies it from its
    next route refresh (every 2 s)."""
    endpoint = Endpoint.objects.select_for_update().select_related("environment", "team").get(pk=endpoint.pk)
    if not may_configure_endpoint(user, endpoint):
        raise PermissionDenied("only the endpoint's team or IT may change which values it refuses")
    names = sorted({str(name).strip() for name in features})
    known, versions = _features_with_a_range(endpoint)
    unknown = [name for name in names if name not in known]
    if unknown:
        listed = ", ".join(sorted(known)[:30]) + (" …" if len(known) > 30 else "")
        raise ValidationError(
            {
                "refuse_outside_range": f"{', '.join(map(repr, unknown))}: no such feature in the input "
                f"schema of {versions} on endpoint '{endpoint.name}' ({endpoint.environment.name}); "
                f"its features are: {listed or 'none'}"
            }
        )
    rangeless = [name for name in names if not _has_range(known[name])]
    if rangeless:
        raise ValidationError(
            {
                "refuse_outside_range": f"{', '.join(map(repr, rangeless))}: the schema gives no min, max "
                "or categories for it, so no value can lie outside"
            }
        )
    previous = list(endpoint.refuse_outside_range or [])
    if names != sorted(previous):
        endpoint.refuse_outside_range = names
        endpoint.save(update_fields=["refuse_outside_range"])
        audit_record(
            actor=user,
            action="endpoint.outside_range_set",
            obj=endpoint,
            team=endpoint.team,
            endpoint=endpoint.name,
            environment=endpoint.environment.name,
            refuse_outside_range=names,
            previous=previous,
        )
    return endpoint


def may_manage_keys(user, endpoint: Endpoint) -> bool:
    """The endpoint's own team's data scientists and IT create, list and revoke its consumer keys."""
    if access.has_role(user, Role.IT_OPERATOR, Role.ADMIN):
        return True
    return access.has_role(user, Role.DATA_SCIENTIST) and user.teams.filter(pk=endpoint.team_id).exists()


@transaction.atomic
def endpoint_key_create(*, user, endpoint: Endpoint, name: str) -> tuple[EndpointKey, str]:
    """A new consumer key for ``endpoint``: (the stored row, the key). Only the key's hash is kept,
    so this is the one time the key can be shown. The inference service accepts it from its next
    route refresh (every 2 s)."""
    if not may_manage_keys(user, endpoint):
        raise PermissionDenied("only the endpoint's team or IT may create its keys")
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "name the key after who uses it, e.g. loan-origination"})
    if len(name) > 100:
        raise ValidationError({"name": "at most 100 characters"})
    key = generate_key()
    row = EndpointKey.objects.create(
        endpoint=endpoint, name=name, prefix=key[:10], key_hash=hash_key(key), created_by=user
    )
    _audit_key(user, row, "endpoint_key.created")
    return row, key


@transaction.atomic
def endpoint_key_revoke(*, user, key: EndpointKey) -> EndpointKey:
    """Revoke a consumer key: the inference service refuses it from its next route refresh."""
    key = EndpointKey.objects.select_for_update().select_related("endpoint__environment").get(pk=key.pk)
    endpoint = key.endpoint
    if not may_manage_keys(user, endpoint):
        raise PermissionDenied("only the endpoint's team or IT may revoke its keys")
    if key.revoked_at is not None:
        raise ValidationError({"key": f"key {key.prefix}… was already revoked"})
    key.revoked_at, key.revoked_by = timezone.now(), user
    key.save(update_fields=["revoked_at", "revoked_by"])
    _audit_key(user, key, "endpoint_key.revoked")
    return key


def _audit_key(user, key: EndpointKey, action: str) -> None:
    endpoint = key.endpoint
    audit_record(
        actor=user,
        action=action,
        obj=key,
        team=endpoint.team,
        endpoint=endpoint.name,
        environment=endpoint.environment.name,
        name=key.name,
        prefix=key.prefix,
    )


def seed_environments() -> None:
    Environment.objects.get_or_create(name="staging", defaults={"requires_approval": False, "order": 1})
    Environment.objects.get_or_create(name="production", defaults={"requires_approval": True, "order": 2})
