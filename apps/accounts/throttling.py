"""What django-axes needs from us: the client's address and the page a locked-out person sees.

Counting failed sign-ins, the lockout itself and its cool-off are django-axes's (settings in the
accounts block of ``config/settings/base.py``).
"""

from datetime import timedelta

from django.conf import settings
from django.shortcuts import render


def client_address(request) -> str | None:
    """The address a sign-in came from. Behind ``MODELYARD_TRUSTED_PROXY_COUNT`` reverse proxies
    (each appending to X-Forwarded-For), it is the entry that many places from the right: the
    address the outermost trusted proxy saw. Entries further left are the client's own claims and
    are never used. Without trusted proxies, the connection's address."""
    proxies = settings.MODELYARD_TRUSTED_PROXY_COUNT
    if proxies > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR")


def cooloff_minutes() -> int:
    cooloff = settings.AXES_COOLOFF_TIME
    return max(1, round(cooloff / timedelta(minutes=1))) if isinstance(cooloff, timedelta) else 0


def lockout_message() -> str:
    return (
        f"Too many failed sign-ins for this account or from this address. Try again in "
        f"{cooloff_minutes()} minutes, or ask IT to lift the lockout."
    )


def lockout_response(request, response=None, credentials=None):
    """The sign-in page's answer while locked out (django-axes calls it; ``AXES_LOCKOUT_CALLABLE``)."""
    return render(
        request,
        "accounts/locked_out.html",
        {"minutes": cooloff_minutes(), "failure_limit": settings.AXES_FAILURE_LIMIT},
        status=429,
    )
