from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from apps.accounts.models import ApiToken
from apps.accounts.services import token_create, token_revoke
from apps.accounts.timezones import SESSION_KEY, time_zone_choices, time_zone_save, user_time_zone


@login_required
def tokens(request):
    new_key = None
    if request.method == "POST":
        name = (request.POST.get("name") or "web").strip()[:100] or "web"
        new_key = token_create(user=request.user, name=name)
    return render(
        request,
        "accounts/tokens.html",
        {
            "tokens": ApiToken.objects.filter(user=request.user),
            "new_key": new_key,
            "lifetime_days": settings.MODELYARD_API_TOKEN_DAYS,
        },
    )


@login_required
@require_POST
def token_revoke_view(request, pk: int):
    # Someone else's token is as absent as one that never existed.
    get_object_or_404(ApiToken, pk=pk, user=request.user)
    token_revoke(user=request.user, token_id=pk)
    messages.success(request, "Token revoked.")
    return redirect("accounts:tokens")


@login_required
def account_settings(request):
    """The person's own settings: the time zone their pages and labels are read in."""
    error = None
    if request.method == "POST":
        name = (request.POST.get("time_zone") or "").strip()
        try:
            time_zone_save(user=request.user, name=name, session=request.session)
        except ValueError as exc:
            error = str(exc)
        else:
            messages.success(request, f"Times are now shown in {name or settings.TIME_ZONE}.")
            return redirect("accounts:settings")
    current = request.session.get(SESSION_KEY, user_time_zone(request.user))
    return render(
        request,
        "accounts/settings.html",
        {"zones": time_zone_choices(), "current": current, "site_zone": settings.TIME_ZONE, "error": error},
        status=400 if error else 200,
    )
