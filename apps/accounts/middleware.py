import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout

SIGNED_IN = "modelyard_signed_in"
LAST_SEEN = "modelyard_last_seen"
# The session row is rewritten at most this often just to note activity (seconds).
TOUCH_EVERY = 60


def start_session_clocks(sender, request, user, **kwargs):
    """On sign-in (connected to ``user_logged_in`` in apps.py): both clocks start now."""
    if hasattr(request, "session"):
        request.session[SIGNED_IN] = request.session[LAST_SEEN] = time.time()


class SessionTimeoutMiddleware:
    """Signs a browser session out after ``MODELYARD_SESSION_IDLE_MINUTES`` without a request, and
    in any case ``MODELYARD_SESSION_MAX_HOURS`` after it began. API tokens have their own expiry."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            self._check(request)
        return self.get_response(request)

    def _check(self, request) -> None:
        session, now = request.session, time.time()
        idle_minutes = settings.MODELYARD_SESSION_IDLE_MINUTES
        max_hours = settings.MODELYARD_SESSION_MAX_HOURS
        signed_in = session.setdefault(SIGNED_IN, now)  # sessions from before this middleware
        last_seen = session.get(LAST_SEEN, now)
        if now - last_seen > idle_minutes * 60:
            reason = f"after {idle_minutes} minutes without activity"
        elif now - signed_in > max_hours * 3600:
            reason = f"{max_hours} hours after signing in"
        else:
            if LAST_SEEN not in session or now - last_seen >= TOUCH_EVERY:
                session[LAST_SEEN] = now
            return
        logout(request)
        messages.info(request, f"You were signed out {reason}. Please sign in again.")
