"""One error shape for the whole API: a ``detail`` sentence plus field errors by field name."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from apps.accounts import unavailable
from apps.accounts.error_views import too_large_message


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "the request is too large"
    default_code = "payload_too_large"


def _summary(fields: dict) -> str:
    parts = []
    for name, messages in fields.items():
        messages = messages if isinstance(messages, list) else [messages]
        parts.append(f"{name}: {'; '.join(str(m) for m in messages)}")
    return "Invalid input — " + " | ".join(parts)


def exception_handler(exc, context):
    if isinstance(exc, unavailable.DATABASE_ERRORS):
        return unavailable.database_unavailable(context["request"], exc)
    if isinstance(exc, RequestDataTooBig):  # a body or an upload over its limit (apps/accounts/limits.py)
        exc = PayloadTooLarge(too_large_message(exc))
    elif isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        exc = exceptions.ParseError(str(exc))
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
