"""Production settings behind TLS, each in its own process as a deployment would start them: on by
default (Django's deployment check has nothing to say), a proxy that ends TLS named in the
environment, plain HTTP redirected, HSTS and the other headers on every answer, cookies marked
Secure; and every one of them can be turned off from the environment."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

# Asks the production settings three questions through Django's test client; no database needed.
REQUESTS = """
import json, django
django.setup()
from django.conf import settings
from django.test import Client
from django.test.utils import override_settings
# The page's static URLs without the manifest that collectstatic would have written.
override_settings(STORAGES={**settings.STORAGES, "staticfiles": {
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}).enable()
client = Client(HTTP_HOST="modelyard.example.com")
answers = {}
for name, headers in [("plain", {}), ("proxy-https", {"X-Forwarded-Proto": "https"}),
                      ("proxy-http", {"X-Forwarded-Proto": "http"})]:
    response = client.get("/accounts/login/", headers=headers)
    answers[name] = {
        "status": response.status_code,
        "location": response.get("Location"),
        "headers": {k.lower(): v for k, v in response.headers.items()},
        "cookies": {k: {"secure": bool(m["secure"])} for k, m in response.cookies.items()},
    }
answers["settings"] = {name: getattr(settings, name) for name in (
    "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD", "SECURE_PROXY_SSL_HEADER", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE")}
print(json.dumps(answers))
"""


def production(*args: str, **env: str) -> subprocess.CompletedProcess:
    """``python`` with the production settings and only their required values (plus ``env``)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    base.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="modelyard.example.com",
        DATABASE_URL=os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/modelyard"),
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        **env,
    )
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=base, capture_output=True, text=True, timeout=120
    )


def answers(**env: str) -> dict:
    run = production("-c", REQUESTS, **env)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_djangos_deployment_check_finds_nothing_to_warn_about_in_production_settings():
    run = production("manage.py", "check", "--deploy", "--tag", "security", "--fail-level", "WARNING")
    assert run.returncode == 0, run.stderr + run.stdout
    assert "no issues" in run.stdout


def test_behind_a_tls_proxy_http_is_redirected_and_https_gets_hsts_and_the_other_headers():
    got = answers(DJANGO_SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto")
    for plain in ("plain", "proxy-http"):
        assert got[plain]["status"] == 301
        assert got[plain]["location"] == "https://modelyard.example.com/accounts/login/"
    https = got["proxy-https"]
    assert https["status"] == 200
    headers = https["headers"]
    assert headers["strict-transport-security"] == "max-age=31536000; includeSubDomains; preload"
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["cross-origin-opener-policy"] == "same-origin"
    assert headers["x-frame-options"] == "DENY"
    assert https["cookies"]["csrftoken"]["secure"] is True
    assert got["settings"]["SESSION_COOKIE_SECURE"] is True


def test_each_tls_setting_can_be_turned_off_from_the_environment():
    got = answers(
        DJANGO_SECURE_SSL_REDIRECT="false",
        DJANGO_SECURE_HSTS_SECONDS="3600",
        DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS="false",
        DJANGO_SECURE_HSTS_PRELOAD="false",
        DJANGO_SECURE_COOKIES="false",
    )
    assert got["settings"] == {
        "SECURE_SSL_REDIRECT": False,
        "SECURE_HSTS_SECONDS": 3600,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": False,
        "SECURE_HSTS_PRELOAD": False,
        "SECURE_PROXY_SSL_HEADER": None,
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
    }
    assert got["plain"]["status"] == 200  # no proxy header named: plain HTTP is served as it is
    assert "strict-transport-security" not in got["plain"]["headers"]  # HSTS only over HTTPS
    assert got["plain"]["cookies"]["csrftoken"]["secure"] is False
