from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from apps.accounts import access
from apps.core.pages import error_text
from apps.packaging import services
from apps.packaging.selectors import packages_visible_to
from apps.registry import selectors


@login_required
@require_POST
def package_build(request, version_pk: int):
    version = selectors.version_for_user(request.user, version_pk)
    if not access.can_change_stage(request.user, version.model):
        raise PermissionDenied("only the owning team or IT may build packages")
    services.package_build_enqueue(version=version, user=request.user)
    messages.success(request, "Package build queued.")
    return redirect("registry:version-detail", pk=version.pk)


@login_required
@require_POST
def package_override(request, pk: int):
    build = get_object_or_404(packages_visible_to(request.user), pk=pk)
    try:
        services.package_override(user=request.user, build=build, reason=request.POST.get("reason", ""))
        messages.success(request, "Validation overridden; the reason is in the audit trail.")
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))
    return redirect("registry:version-detail", pk=build.version_id)
