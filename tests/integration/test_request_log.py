"""A client's error is one WARNING line in the log, without a traceback; a server error keeps its
traceback (config/logfilters.py, LOGGING in config/settings/base.py)."""

import logging

from django.core.exceptions import PermissionDenied
from django.http import HttpResponseForbidden, HttpResponseServerError
from django.test import RequestFactory
from django.utils.log import log_response


def _log_as_django_does(exc: Exception, response) -> None:
    try:
        raise exc
    except Exception as caught:  # as django.core.handlers.exception.response_for_exception does
        log_response(
            "Forbidden (Permission denied): %s",
            "/versions/1/package/",
            response=response,
            request=RequestFactory().post("/versions/1/package/"),
            exception=caught,
        )


def test_a_403_is_one_warning_line_without_a_traceback(caplog):
    with caplog.at_level(logging.INFO, logger="django.request"):
        _log_as_django_does(
            PermissionDenied("only the owning team or IT may build packages"), HttpResponseForbidden()
        )
    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert record.levelname == "WARNING"
    assert record.exc_info is None
    line = logging.Formatter().format(record)
    assert line == "Forbidden (Permission denied): /versions/1/package/"


def test_a_500_keeps_its_traceback(caplog):
    with caplog.at_level(logging.INFO, logger="django.request"):
        _log_as_django_does(RuntimeError("a bug"), HttpResponseServerError())
    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert record.levelname == "ERROR" and record.exc_info is not None
    assert "Traceback" in logging.Formatter().format(record)
