"""One error shape for the whole API: a ``detail`` sentence plus field errors by field name."""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from apps.accounts import unavailable
from apps.accounts.error_views import too_large_message

logger = logging.getLogger(__name__)


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "the request is too large"
    default_code = "payload_too_large"


def _messages(name: str, errors) -> list[str]:
    """``name: message`` lines; errors of a list's items or an object's keys are named ``name[i]``."""
    if isinstance(errors, dict):
        return [line for key, inner in errors.items() for line in _messages(f"{name}[{key}]", inner)]
    if isinstance(errors, list) and any(isinstance(e, dict | list) for e in errors):
        return [line for inner in errors for line in _messages(name, inner)]
    errors = errors if isinstance(errors, list) else [errors]
    return [f"{name}: {'; '.join(str(m) for m in errors)}"]


def _summary(fields: dict) -> str:
    return "Invalid input — " + " | ".join(
        line for name, errors in fields.items() for line in _messages(name, errors)
    )


def exception_handler(exc, context):
    if isinstance(exc, unavailable.DATABASE_ERRORS):
        return unavailable.database_unavailable(context["request"], exc)
    if isinstance(exc, RequestDataTooBig):  # a body or an upload over its limit (apps/accounts/limits.py)
        exc = PayloadTooLarge(too_large_message(exc))
    elif isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        exc = exceptions.ParseError(str(exc))
    elif isinstance(exc, DataError):
        # A value the database cannot hold or compare that no field refused first, e.g. a NUL
        # character in a name looked up: the request's fault, logged in case a field should check it.
        logger.warning("database refused a value in %s: %s", context["request"].path, exc, exc_info=exc)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid value"
        return Response({"detail": f"Invalid input — a value cannot be used: {reason}"}, status=400)
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        body = {"detail": _summary(fields), **fields}
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.ValidationError):
        data = response.data if isinstance(response.data, dict) else {"non_field_errors": response.data}
        response.data = {"detail": _summary(data), **data}
    return response
