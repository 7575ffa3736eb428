"""The one place that decides what a user may see and do.

Pages, the API and tasks all ask these helpers; nothing else filters by team. A user asking for
an object outside their scope gets ``Http404`` (through ``get_object_or_404`` on a scoped
queryset), so the object's existence is not revealed.
"""

from django.db.models import Q, QuerySet

from apps.accounts.roles import Role


def roles_of(user) -> set[Role]:
    if not user.is_authenticated:
        return set()
    if user.is_superuser:
        return {Role.ADMIN}
    cached = getattr(user, "_modelyard_roles", None)
    if cached is None:
        names = set(user.groups.values_list("name", flat=True))
        cached = {role for role in Role if role.value in names}
        user._modelyard_roles = cached
    return cached


def primary_role(user) -> Role | None:
    """The role that picks the home page and navigation, most powerful first."""
    roles = roles_of(user)
    for role in (Role.ADMIN, Role.IT_OPERATOR, Role.DATA_SCIENTIST, Role.BUSINESS_OWNER):
        if role in roles:
            return role
    return None


def users_with_role(*roles: Role) -> QuerySet:
    """Active users holding any of the roles (admins are superusers, not a group)."""
    from django.contrib.auth import get_user_model

    qs = get_user_model().objects.filter(is_active=True)
    query = Q(groups__name__in=[r.value for r in roles if r != Role.ADMIN])
    if Role.ADMIN in roles:
        query |= Q(is_superuser=True)
    return qs.filter(query).distinct()


def has_role(user, *roles: Role) -> bool:
    return bool(roles_of(user) & set(roles))


def sees_every_model(user) -> bool:
    return has_role(user, Role.ADMIN, Role.IT_OPERATOR)


def team_ids_of(user) -> list[int]:
    return list(user.teams.values_list("id", flat=True)) if user.is_authenticated else []


def teams_visible_to(user) -> QuerySet:
    from apps.accounts.models import Team

    if sees_every_model(user):
        return Team.objects.all()
    return Team.objects.filter(members=user)


def models_visible_to(user) -> QuerySet:
    """Registered models the user may see: all for IT and admins, their teams' models for data
    scientists, and, for business owners, the models they sponsor as well."""
    from apps.registry.models import RegisteredModel

    qs = RegisteredModel.objects.all()
    if not user.is_authenticated or not roles_of(user):
        return qs.none()
    if sees_every_model(user):
        return qs
    return qs.filter(Q(team__members=user) | Q(business_owner=user)).distinct()


def versions_visible_to(user) -> QuerySet:
    from apps.registry.models import ModelVersion

    return ModelVersion.objects.filter(model__in=models_visible_to(user).values("id"))


def can_register_in_team(user, team) -> bool:
    """Data scientists register models in their own teams; admins anywhere."""
    if has_role(user, Role.ADMIN):
        return True
    return has_role(user, Role.DATA_SCIENTIST) and user.teams.filter(pk=team.pk).exists()


def can_edit_model(user, model) -> bool:
    return can_register_in_team(user, model.team)


def can_change_stage(user, model) -> bool:
    """Owners move their versions between stages; IT operators operate every model."""
    return can_edit_model(user, model) or has_role(user, Role.IT_OPERATOR)


def audit_events_visible_to(user) -> QuerySet:
    from apps.core.models import AuditEvent

    qs = AuditEvent.objects.all()
    if sees_every_model(user):
        return qs
    # Business owners see the history of the models they sponsor, as the model pages show it.
    sponsored = Q(object_type="registeredmodel", object_id__in=models_visible_to(user).values("id")) | Q(
        object_type="modelversion", object_id__in=versions_visible_to(user).values("id")
    )
    if not has_role(user, Role.DATA_SCIENTIST):
        return qs.filter(sponsored) if has_role(user, Role.BUSINESS_OWNER) else qs.none()
    return qs.filter(Q(team__in=team_ids_of(user)) | sponsored)


def jobs_visible_to(user) -> QuerySet:
    from apps.jobs.models import Job

    qs = Job.objects.all()
    if sees_every_model(user):
        return qs
    return qs.filter(Q(team__in=team_ids_of(user)) | Q(requested_by=user))


def audit_events_for_home(user, limit: int = 15):
    return audit_events_visible_to(user).select_related("actor")[:limit]


def packages_visible_to(user) -> QuerySet:
    from apps.packaging.models import PackageBuild

    return PackageBuild.objects.filter(version__in=versions_visible_to(user).values("id"))


def endpoints_visible_to(user) -> QuerySet:
    from apps.deployments.models import Endpoint

    qs = Endpoint.objects.all()
    if sees_every_model(user):
        return qs
    return qs.filter(Q(team__members=user) | Q(deployments__version__model__business_owner=user)).distinct()


def can_write_outcomes(user) -> bool:
    """Ground truth is written by data scientists (for their teams' endpoints) and IT; business
    owners read it through KPIs and monitoring, sponsors included."""
    return has_role(user, Role.DATA_SCIENTIST, Role.IT_OPERATOR, Role.ADMIN)


def outcome_endpoints_for(user) -> QuerySet:
    """Endpoints the user may send outcomes for: every one for IT and admins, their teams' own for
    data scientists, none for anyone else."""
    from apps.deployments.models import Endpoint

    if sees_every_model(user):
        return Endpoint.objects.all()
    if not can_write_outcomes(user):
        return Endpoint.objects.none()
    return Endpoint.objects.filter(team__in=team_ids_of(user))


def deployments_visible_to(user) -> QuerySet:
    from apps.deployments.models import Deployment

    return Deployment.objects.filter(version__in=versions_visible_to(user).values("id"))


def batch_jobs_visible_to(user) -> QuerySet:
    """Batch jobs: every one for IT and admins, their teams' for data scientists, none otherwise."""
    from apps.serving.models import BatchJob

    qs = BatchJob.objects.all()
    if sees_every_model(user):
        return qs
    if not has_role(user, Role.DATA_SCIENTIST):
        return qs.none()
    return qs.filter(team__in=team_ids_of(user))


def monitors_visible_to(user) -> QuerySet:
    """Monitors of the deployments whose model the user may see: their team's for data scientists,
    all for IT and admins, the sponsored models' (read-only) for business owners."""
    from apps.monitoring.models import Monitor

    return Monitor.objects.filter(deployment__version__model__in=models_visible_to(user).values("id"))


def check_runs_visible_to(user) -> QuerySet:
    from apps.monitoring.models import CheckRun

    return CheckRun.objects.filter(monitor__in=monitors_visible_to(user).values("id"))


def findings_visible_to(user) -> QuerySet:
    from apps.monitoring.models import Finding

    return Finding.objects.filter(run__monitor__in=monitors_visible_to(user).values("id"))


def alerts_visible_to(user) -> QuerySet:
    """Alerts follow their monitor: the same people see them; who may act is decided in
    apps.monitoring.actions.can_act_on_alert."""
    from apps.monitoring.models import Alert

    return Alert.objects.filter(monitor__in=monitors_visible_to(user).values("id"))


def can_manage_libraries(user) -> bool:
    """IT operators (and admins) import advisories, set the library policy and approve patches."""
    return has_role(user, Role.IT_OPERATOR, Role.ADMIN)


def can_upload_pip_audit(user) -> bool:
    return has_role(user, Role.IT_OPERATOR, Role.ADMIN, Role.DATA_SCIENTIST)


def first_team_of(user):
    return user.teams.order_by("name").first() if user.is_authenticated else None


def library_findings_visible_to(user) -> QuerySet:
    """Library findings: all for IT and admins; otherwise those of the model versions the user may
    see, and of standalone pip-audit reports of their teams or their own upload."""
    from apps.libraries.models import LibraryFinding

    qs = LibraryFinding.objects.all()
    if sees_every_model(user):
        return qs
    if not user.is_authenticated or not roles_of(user):
        return qs.none()
    return qs.filter(
        Q(version__in=versions_visible_to(user).values("id"))
        | Q(version__isnull=True, report__team__in=team_ids_of(user))
        | Q(version__isnull=True, report__uploaded_by=user)
    )


def pip_audit_reports_visible_to(user) -> QuerySet:
    from apps.libraries.models import PipAuditReport

    qs = PipAuditReport.objects.all()
    if sees_every_model(user):
        return qs
    if not user.is_authenticated or not roles_of(user):
        return qs.none()
    return qs.filter(
        Q(version__in=versions_visible_to(user).values("id"))
        | Q(version__isnull=True, team__in=team_ids_of(user))
        | Q(uploaded_by=user)
    )


def kpis_visible_to(user) -> QuerySet:
    """KPIs of the models the user may see: every one for IT and admins, their teams' models' for
    data scientists, and for business owners those of the models they sponsor."""
    from apps.kpis.models import KpiDefinition

    return KpiDefinition.objects.filter(model__in=models_visible_to(user).values("id"))


def can_define_kpis(user, model) -> bool:
    """The model's team's data scientists (and admins), and the business owner who sponsors it."""
    if can_edit_model(user, model):
        return True
    return has_role(user, Role.BUSINESS_OWNER) and model.business_owner_id == user.pk


def kpi_alerts_visible_to(user) -> QuerySet:
    from apps.kpis.models import KpiAlert

    return KpiAlert.objects.filter(kpi__in=kpis_visible_to(user).values("id"))


def can_act_on_kpi_alert(user, alert) -> bool:
    """Those who may define the KPI, and IT operators (who see every model)."""
    return can_define_kpis(user, alert.kpi.model) or has_role(user, Role.IT_OPERATOR)
