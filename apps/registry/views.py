from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from apps.accounts import access, page_cache
from apps.accounts.roles import Role
from apps.core.charts import cached, to_json
from apps.core.pages import error_text
from apps.jobs.selectors import jobs_visible_to
from apps.registry import selectors, services
from apps.registry.charts import profile_chart
from apps.registry.filters import RegisteredModelFilter
from apps.registry.forms import RegisterVersionForm, StageForm


def _add_errors(form, exc: ValidationError) -> None:
    for field, errors in (exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}).items():
        form.add_error(
            field if field in form.fields else None, [f"{field}: {e}" if field else e for e in errors]
        )


@login_required
@page_cache.cached_page()
def model_list(request):
    filterset = RegisteredModelFilter(request.GET, queryset=selectors.model_list_for_user(request.user))
    return render(request, "registry/model_list.html", {"filter": filterset, "models": filterset.qs})


@login_required
@page_cache.cached_page()
def model_detail(request, pk: int):
    model = selectors.model_for_user(request.user, pk)
    versions = list(model.versions.select_related("created_by", "parent"))
    return render(
        request,
        "registry/model_detail.html",
        {
            "model": model,
            "versions": versions,
            "latest": versions[0] if versions else None,
            "events": selectors.model_audit_events(model),
            "can_edit": access.can_edit_model(request.user, model),
        },
    )


@login_required
@page_cache.cached_page()
def version_detail(request, pk: int):
    version = selectors.version_for_user(request.user, pk)
    profile = version.reference_profile or {}
    columns = profile.get("columns", [])
    selected = request.GET.get("feature") or (columns[0]["name"] if columns else None)
    column = next((c for c in columns if c["name"] == selected), None)
    # "" when the column has nothing to draw (profile_chart returns None)
    chart_json = to_json(cached(profile_chart, column)) if column else ""
    return render(
        request,
        "registry/version_detail.html",
        {
            "version": version,
            "model": version.model,
            "profile": profile,
            "columns": columns,
            "selected": selected,
            "chart_json": chart_json or None,
            "job": selectors.latest_job_for_version(version),
            "build": version.packages.select_related("override_by").order_by("-created_at", "-id").first(),
            "build_job": selectors.latest_job_for_package_of(version),
            "is_it": access.has_role(request.user, Role.IT_OPERATOR, Role.ADMIN),
            "events": selectors.version_audit_events(version),
            "stage_form": StageForm(initial={"stage": version.stage}),
            "can_change_stage": access.can_change_stage(request.user, version.model),
        },
    )


@login_required
@require_POST
def version_stage(request, pk: int):
    version = selectors.version_for_user(request.user, pk)
    form = StageForm(request.POST)
    if form.is_valid():
        try:
            services.version_set_stage(user=request.user, version=version, **form.cleaned_data)
            messages.success(request, f"v{version.number} is now {form.cleaned_data['stage']}.")
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, error_text(exc))
    return redirect("registry:version-detail", pk=version.pk)


@login_required
def register(request):
    if not access.has_role(request.user, Role.DATA_SCIENTIST, Role.ADMIN):
        raise PermissionDenied("only data scientists register models")
    form = RegisterVersionForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        reg = services.Registration(
            model_name=data["model"],
            team=data["team"],
            task_type=data["task_type"],
            description=data["description"],
            artifact=data["artifact"],
            artifact_filename=data["artifact"].name,
            reference=data["reference"],
            reference_filename=data["reference"].name if data["reference"] else "",
            target=data["target"].strip(),
            requirements=data["requirements"],
        )
        try:
            version = services.version_register(user=request.user, reg=reg)
        except ValidationError as exc:
            _add_errors(form, exc)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Registered {version.model.name} v{version.number}.")
            return redirect("registry:version-detail", pk=version.pk)
    return render(request, "registry/register.html", {"form": form})


@login_required
def job_progress(request, pk: int):
    """An htmx fragment: the job's progress bar, polling itself until the job is done."""
    job = get_object_or_404(jobs_visible_to(request.user), pk=pk)
    return render(request, "registry/_job_progress.html", {"job": job})
