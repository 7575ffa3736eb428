"""While the database cannot be reached, every request says so honestly: 503 with Retry-After, JSON
for the API and a plain page for people, never a traceback or an HTML 500 (issue 13, point 7).

Two ways in: the API's exception handler (apps/accounts/api/errors.py) for errors raised inside a
DRF view, and the 500 handler (apps/accounts/error_views.py) for the rest, such as a session or
user looked up by a middleware before any view runs."""

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse

RETRY_AFTER_SECONDS = 15
DATABASE_ERRORS = (OperationalError, InterfaceError)
MESSAGE = f"The database is unavailable; try again in {RETRY_AFTER_SECONDS} seconds."
PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Modelyard is unavailable</title></head>
<body><h1>Service unavailable</h1><p>{MESSAGE}</p></body></html>
"""

logger = logging.getLogger(__name__)


def is_api(request) -> bool:
    return request.path.startswith("/api/")


def database_unavailable(request, exc: Exception) -> HttpResponse:
    """The 503 for ``request`` while the database is down (``exc`` is the error that said so)."""
    logger.error("database unavailable during %s %s: %s", request.method, request.path, exc)
    if is_api(request):
        response = JsonResponse({"detail": MESSAGE}, status=503)
    else:
        response = HttpResponse(PAGE, status=503, content_type="text/html; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
