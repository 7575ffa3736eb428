"""The site's 400, 404 and 500 handlers (config/urls.py), for what goes wrong outside a DRF view: a
body or upload over its limit is a 413 naming the limit, the database being down is a 503, and the
API's paths answer JSON."""

import sys

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpResponse, JsonResponse
from django.utils.html import format_html
from django.views import defaults

from apps.accounts import limits, unavailable


def too_large_message(exception: RequestDataTooBig) -> str:
    return str(exception) if isinstance(exception, limits.TooLarge) else limits.body_too_large_message()


def bad_request(request, exception, *args, **kwargs):
    if isinstance(exception, RequestDataTooBig):
        message = too_large_message(exception)
        if unavailable.is_api(request):
            return JsonResponse({"detail": message}, status=413)
        page = format_html("<!doctype html><title>Too large</title><h1>Too large</h1><p>{}</p>", message)
        return HttpResponse(page, status=413)
    if unavailable.is_api(request):
        told = isinstance(exception, TooManyFieldsSent | TooManyFilesSent)
        return JsonResponse({"detail": str(exception) if told else "Bad request"}, status=400)
    return defaults.bad_request(request, exception)


def page_not_found(request, exception, *args, **kwargs):
    if unavailable.is_api(request):  # a path no route matches, e.g. /api/v1/models/-1/
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request, *args, **kwargs):
    # Django calls this while it handles the exception, so sys.exc_info() still holds it.
    exc = sys.exc_info()[1]
    if isinstance(exc, unavailable.DATABASE_ERRORS):
        return unavailable.database_unavailable(request, exc)
    if unavailable.is_api(request):
        return JsonResponse({"detail": "Server error: it is logged; please report it."}, status=500)
    return defaults.server_error(request)
