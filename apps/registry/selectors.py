"""Reads for pages: scoped through apps.accounts.access, so another team's object is a 404."""

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from apps.accounts import access
from apps.accounts.roles import Role
from apps.core.models import AuditEvent
from apps.jobs.models import Job
from apps.registry.models import ModelVersion, RegisteredModel


def models_visible_to(user) -> QuerySet:
    """Registered models the user may see: all for IT and admins, their teams' models for data
    scientists, and, for business owners, the models they sponsor as well."""
    qs = RegisteredModel.objects.all()
    if not user.is_authenticated or not access.roles_of(user):
        return qs.none()
    if access.sees_every_model(user):
        return qs
    return qs.filter(Q(team__members=user) | Q(business_owner=user)).distinct()


def versions_visible_to(user) -> QuerySet:
    return ModelVersion.objects.filter(model__in=models_visible_to(user).values("id"))


def model_for_user(user, pk: int) -> RegisteredModel:
    return get_object_or_404(models_visible_to(user).select_related("team", "business_owner"), pk=pk)


def version_for_user(user, pk: int) -> ModelVersion:
    return get_object_or_404(
        versions_visible_to(user).select_related("model__team", "parent", "created_by"), pk=pk
    )


def model_list_for_user(user):
    return (
        models_visible_to(user)
        .select_related("team", "business_owner")
        .prefetch_related("versions")
        .order_by("team__name", "name")
    )


def version_audit_events(version: ModelVersion, limit: int = 50):
    """Events of the version and of its package builds."""
    build_ids = list(version.packages.values_list("id", flat=True))
    return AuditEvent.objects.filter(
        Q(object_type="modelversion", object_id=version.pk)
        | Q(object_type="packagebuild", object_id__in=build_ids)
    ).order_by("-created_at", "-id")[:limit]


def model_audit_events(model: RegisteredModel, limit: int = 50):
    from apps.packaging.models import PackageBuild

    version_ids = list(model.versions.values_list("id", flat=True))
    build_ids = list(PackageBuild.objects.filter(version_id__in=version_ids).values_list("id", flat=True))

    return AuditEvent.objects.filter(
        Q(object_type="registeredmodel", object_id=model.pk)
        | Q(object_type="modelversion", object_id__in=version_ids)
        | Q(object_type="packagebuild", object_id__in=build_ids)
    ).order_by("-created_at", "-id")[:limit]


def latest_job_for_version(version: ModelVersion) -> Job | None:
    return Job.objects.filter(subject_type="version", subject_id=version.pk).order_by("-created_at").first()


def latest_job_for_package_of(version: ModelVersion) -> Job | None:
    build_ids = list(version.packages.values_list("id", flat=True))
    return (
        Job.objects.filter(subject_type="package", subject_id__in=build_ids).order_by("-created_at").first()
    )


def audit_events_visible_to(user) -> QuerySet:
    qs = AuditEvent.objects.all()
    if access.sees_every_model(user):
        return qs
    # Business owners see the history of the models they sponsor, as the model pages show it.
    sponsored = Q(object_type="registeredmodel", object_id__in=models_visible_to(user).values("id")) | Q(
        object_type="modelversion", object_id__in=versions_visible_to(user).values("id")
    )
    if not access.has_role(user, Role.DATA_SCIENTIST):
        return qs.filter(sponsored) if access.has_role(user, Role.BUSINESS_OWNER) else qs.none()
    return qs.filter(Q(team__in=access.team_ids_of(user)) | sponsored)


def audit_events_for_home(user, limit: int = 15):
    return audit_events_visible_to(user).select_related("actor")[:limit]
