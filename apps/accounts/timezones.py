"""Each person reads times in their own zone. The zone is kept in their session (set at sign-in
and when they change it), so activating it costs no query per request."""

from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from django.utils import timezone

from apps.accounts.models import Profile

SESSION_KEY = "modelyard_time_zone"


@cache
def _zones() -> frozenset[str]:
    # available_timezones() walks the zone files on every call: read them once per process,
    # since the middleware checks the zone on every request.
    return frozenset(available_timezones())


def time_zone_choices() -> list[str]:
    return sorted(name for name in _zones() if "/" in name and not name.startswith("Etc/"))


def valid_time_zone(name: str) -> bool:
    return name == "" or name in _zones()


def user_time_zone(user) -> str:
    return Profile.objects.filter(user=user).values_list("time_zone", flat=True).first() or ""


def time_zone_save(*, user, name: str, session=None) -> None:
    """Save ``name`` ("" for the site's zone) as ``user``'s zone; ValueError when it is not one."""
    if not valid_time_zone(name):
        raise ValueError(f"{name!r} is not a time zone name (for example Europe/Paris)")
    Profile.objects.update_or_create(user=user, defaults={"time_zone": name})
    if session is not None:
        session[SESSION_KEY] = name


def remember_time_zone(sender, request, user, **kwargs):
    """On sign-in (connected to ``user_logged_in`` in apps.py)."""
    if hasattr(request, "session"):
        request.session[SESSION_KEY] = user_time_zone(user)


class UserTimeZoneMiddleware:
    """Activates the signed-in person's zone for the request: pages and labels use it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        name = request.session.get(SESSION_KEY, "") if hasattr(request, "session") else ""
        if name and valid_time_zone(name):
            timezone.activate(ZoneInfo(name))
        else:
            timezone.deactivate()
        return self.get_response(request)
