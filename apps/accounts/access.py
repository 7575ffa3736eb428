"""The one place that decides who a user is: roles, teams, and what each role may do.

Each app's ``selectors.py`` scopes its own rows with ``restrict`` and these helpers
(``apps.deployments.selectors.endpoints_visible_to``…); nothing else filters by team. A user
asking for an object outside their scope gets ``Http404`` (through ``get_object_or_404`` on a
scoped queryset), so the object's existence is not revealed.
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


def restrict(queryset: QuerySet, user) -> QuerySet:
    """The rows of ``queryset`` the user may see by team: all of them for IT and admins, otherwise
    those whose team is one of the user's. The model names the path to its team in a class
    attribute ``team_path`` (``"version__model__team"``); none or empty means its own ``team``.
    Rules beyond this (sponsors, roles) stay in the owning app's selector."""
    if sees_every_model(user):
        return queryset
    path = getattr(queryset.model, "team_path", None) or "team"
    return queryset.filter(**{f"{path}__in": team_ids_of(user)})


def teams_visible_to(user) -> QuerySet:
    from apps.accounts.models import Team

    if sees_every_model(user):
        return Team.objects.all()
    return Team.objects.filter(members=user)


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


def can_write_outcomes(user) -> bool:
    """Ground truth is written by data scientists (for their teams' endpoints) and IT; business
    owners read it through KPIs and monitoring, sponsors included."""
    return has_role(user, Role.DATA_SCIENTIST, Role.IT_OPERATOR, Role.ADMIN)


def can_manage_libraries(user) -> bool:
    """IT operators (and admins) import advisories, set the library policy and approve patches."""
    return has_role(user, Role.IT_OPERATOR, Role.ADMIN)


def can_upload_pip_audit(user) -> bool:
    return has_role(user, Role.IT_OPERATOR, Role.ADMIN, Role.DATA_SCIENTIST)


def first_team_of(user):
    return user.teams.order_by("name").first() if user.is_authenticated else None


def can_define_kpis(user, model) -> bool:
    """The model's team's data scientists (and admins), and the business owner who sponsors it."""
    if can_edit_model(user, model):
        return True
    return has_role(user, Role.BUSINESS_OWNER) and model.business_owner_id == user.pk


def can_act_on_kpi_alert(user, alert) -> bool:
    """Those who may define the KPI, and IT operators (who see every model)."""
    return can_define_kpis(user, alert.kpi.model) or has_role(user, Role.IT_OPERATOR)
