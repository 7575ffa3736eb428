from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.shortcuts import render

from apps.accounts import access, page_cache
from apps.accounts.roles import Role
from apps.deployments.models import Deployment
from apps.deployments.selectors import deployments_visible_to
from apps.jobs.models import Job
from apps.jobs.selectors import jobs_visible_to
from apps.kpis.selectors import kpis_visible_to
from apps.registry import selectors
from apps.registry.models import ModelVersion
from apps.registry.selectors import audit_events_for_home, versions_visible_to
from apps.sla.selectors import home_summaries


@login_required
@page_cache.cached_page()
def home(request):
    """Each role lands on its own home page."""
    user = request.user
    role = access.primary_role(user)
    models = selectors.model_list_for_user(user)
    versions = (
        versions_visible_to(user).select_related("model__team", "created_by").order_by("-created_at")[:10]
    )
    context = {"role": role, "models": models, "recent_versions": versions}
    if role in (Role.IT_OPERATOR, Role.ADMIN):
        context["stage_counts"] = dict(
            ModelVersion.objects.values_list("stage").annotate(n=Count("id")).values_list("stage", "n")
        )
        context["jobs"] = jobs_visible_to(user).order_by("-created_at")[:10]
        context["failed_jobs"] = jobs_visible_to(user).filter(status=Job.Status.FAILED).count()
        context["events"] = audit_events_for_home(user)
        context["approvals_waiting"] = (
            deployments_visible_to(user).filter(status=Deployment.Status.PENDING_APPROVAL).count()
        )
        context["sla_rows"] = _sla_rows(user)
        context["library_findings"] = _library_findings(user)
        template = "dashboards/home_it.html"
    elif role == Role.DATA_SCIENTIST:
        context["teams"] = user.teams.all()
        context["jobs"] = jobs_visible_to(user).order_by("-created_at")[:10]
        context["open_alerts"] = _open_alerts(user)
        template = "dashboards/home_data_scientist.html"
    elif role == Role.BUSINESS_OWNER:
        context["sponsored"] = models.filter(business_owner=user)
        context["open_alerts"] = _open_alerts(user)
        context["kpi_tiles"] = _kpi_tiles(user)
        template = "dashboards/home_business.html"
    else:
        template = "dashboards/home_norole.html"
    return render(request, template, context)


def _open_alerts(user) -> dict:
    """The "Open alerts" tile: unresolved alerts the user may see (a business owner: those of the
    models they sponsor), by severity."""
    from apps.monitoring.selectors import open_alert_counts

    counts = open_alert_counts(user)
    return {"total": sum(counts.values()), **counts}


def _kpi_tiles(user) -> list:
    """The business owner's KPI tiles: every KPI of the models they may see (those they sponsor)."""
    from apps.kpis.views import tiles_with_sparklines

    return tiles_with_sparklines(kpis_visible_to(user).order_by("model__name", "name"))


def _library_findings(user) -> dict:
    """The "IT: libraries" tile: open (or failed-patch) library findings and the versions they affect."""
    from apps.libraries.patching.selectors import open_finding_count

    return open_finding_count(user)


def _sla_rows(user) -> list[dict]:
    from apps.dashboards.sla_views import shown

    return [
        {**row, "hour_shown": shown(row["hour"]), "day_shown": shown(row["day"])}
        for row in home_summaries(user)
    ]
