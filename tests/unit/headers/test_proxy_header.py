import pytest
from django.core.exceptions import ImproperlyConfigured

from config.settings.base import proxy_ssl_header


def test_the_proxy_header_is_named_as_the_proxy_sends_it():
    assert proxy_ssl_header("X-Forwarded-Proto") == ("HTTP_X_FORWARDED_PROTO", "https")
    assert proxy_ssl_header("x_forwarded_proto") == ("HTTP_X_FORWARDED_PROTO", "https")
    assert proxy_ssl_header("") is None


def test_a_value_that_is_not_a_header_name_stops_start_up_with_its_reason():
    with pytest.raises(ImproperlyConfigured, match="DJANGO_SECURE_PROXY_SSL_HEADER must be a header name"):
        proxy_ssl_header("X-Forwarded-Proto: https")
