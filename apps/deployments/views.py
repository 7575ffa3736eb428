from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from apps.accounts import access, page_cache
from apps.accounts.roles import Role
from apps.core.pages import error_text
from apps.deployments import selectors as deployment_selectors
from apps.deployments import services
from apps.deployments.comparison import shadow_agreement
from apps.deployments.models import Deployment
from apps.deployments.selectors import deployments_visible_to, endpoints_visible_to, outcome_endpoints_for
from apps.registry import selectors
from apps.serving.outcomes import outcomes_from_csv, outcomes_submit
from apps.sla.selectors import effective_slo


@login_required
@page_cache.cached_page()
def overview(request):
    """Endpoints with their live versions and traffic split, approvals waiting, and history."""
    endpoints = (
        endpoints_visible_to(request.user)
        .select_related("environment", "team", "slo")
        .prefetch_related("deployments__version__model")
    )
    deployments = deployments_visible_to(request.user).select_related(
        "endpoint__environment", "version__model", "requested_by", "decided_by"
    )
    for endpoint in endpoints:
        endpoint.objective = effective_slo(endpoint)
        for d in endpoint.deployments.all():  # the prefetched rows the template shows
            if d.status == Deployment.Status.LIVE and d.role == Deployment.Role.SHADOW:
                d.agreement = shadow_agreement(d)
    return render(
        request,
        "deployments/overview.html",
        {
            "endpoints": endpoints,
            "pending": deployments.filter(status=Deployment.Status.PENDING_APPROVAL),
            "history": deployments[:50],
            "is_it": access.has_role(request.user, Role.IT_OPERATOR, Role.ADMIN),
            "outcome_endpoints": outcome_endpoints_for(request.user).select_related("environment"),
            "keyed": set(deployment_selectors.keyed_endpoints(request.user).values_list("pk", flat=True)),
        },
    )


def _act(request, action, success: str):
    try:
        action()
        messages.success(request, success)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))


@login_required
@require_POST
def deploy(request, version_pk: int):
    version = selectors.version_for_user(request.user, version_pk)
    percent = request.POST.get("percent") or None
    _act(
        request,
        lambda: services.deployment_request(
            user=request.user,
            version=version,
            endpoint=request.POST.get("endpoint", ""),
            environment=request.POST.get("environment", "staging"),
            strategy=request.POST.get("strategy", "direct"),
            percent=float(percent) if percent and percent.replace(".", "", 1).isdigit() else None,
        ),
        "Deployment requested.",
    )
    return redirect("registry:version-detail", pk=version.pk)


@login_required
@require_POST
def decide(request, pk: int, decision: str):
    deployment = get_object_or_404(deployments_visible_to(request.user), pk=pk)
    reason = request.POST.get("reason", "")
    if decision == "approve":
        _act(
            request,
            lambda: services.deployment_approve(user=request.user, deployment=deployment, reason=reason),
            "Approved; rolling out.",
        )
    else:
        _act(
            request,
            lambda: services.deployment_reject(user=request.user, deployment=deployment, reason=reason),
            "Rejected.",
        )
    return redirect("deployments:overview")


@login_required
@require_POST
def endpoint_action(request, pk: int, action: str):
    endpoint = get_object_or_404(endpoints_visible_to(request.user), pk=pk)
    reason = request.POST.get("reason", "")
    service = services.endpoint_promote if action == "promote" else services.endpoint_rollback
    _act(
        request,
        lambda: service(user=request.user, endpoint=endpoint, reason=reason),
        f"{action.title()} done.",
    )
    return redirect("deployments:overview")


@login_required
@require_POST
def outcomes_upload(request):
    """A CSV of outcomes (request_id[,row],value or business_key,value) for one endpoint in one
    environment. Business owners may not write outcomes: 403."""
    if not access.can_write_outcomes(request.user):
        raise PermissionDenied("outcomes are written by the model's team and IT operators")
    upload = request.FILES.get("file")

    def submit():
        if upload is None:
            raise ValidationError({"file": "choose a CSV file"})
        answer = outcomes_submit(
            user=request.user,
            records=outcomes_from_csv(upload),
            endpoint=request.POST.get("endpoint") or None,
            environment=request.POST.get("environment") or None,
            key_field=request.POST.get("key_field") or None,
        )
        unknown = answer.unknown
        shown = ", ".join(unknown[:5]) + (" …" if len(unknown) > 5 else "")
        messages.success(
            request,
            f"{answer.accepted} outcomes stored"
            + (f" ({answer.overwritten} replaced an earlier value)." if answer.overwritten else ".")
            + (f" {len(unknown)} matched no logged prediction: {shown}" if unknown else ""),
        )

    try:
        submit()
    except ValidationError as exc:
        messages.error(request, error_text(exc))
    return redirect("deployments:overview")


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def endpoint_keys(request, pk: int):
    """An endpoint's consumer keys: its team's data scientists and IT list, create and revoke them.
    A new key is on the answer to its POST only (never stored, never in a message or a redirect)."""
    endpoint = get_object_or_404(endpoints_visible_to(request.user).select_related("environment"), pk=pk)
    keys = deployment_selectors.endpoint_keys(
        user=request.user, endpoint=endpoint
    )  # 403 for a business owner
    new_key = None
    if request.method == "POST":
        try:
            _, new_key = services.endpoint_key_create(
                user=request.user, endpoint=endpoint, name=request.POST.get("name", "")
            )
        except ValidationError as exc:
            messages.error(request, error_text(exc))
    return render(
        request,
        "deployments/endpoint_keys.html",
        {
            "endpoint": endpoint,
            "keys": keys,
            "new_key": new_key,
            "required": settings.MODELYARD_INFERENCE_REQUIRE_KEYS,
        },
    )


@login_required
@require_POST
def endpoint_key_revoke(request, pk: int, key_pk: int):
    endpoint = get_object_or_404(endpoints_visible_to(request.user), pk=pk)
    key = get_object_or_404(
        deployment_selectors.endpoint_keys(user=request.user, endpoint=endpoint), pk=key_pk
    )
    _act(
        request,
        lambda: services.endpoint_key_revoke(user=request.user, key=key),
        f"Key {key.prefix}… revoked; the inference service refuses it within a few seconds.",
    )
    return redirect("deployments:endpoint-keys", pk=endpoint.pk)
