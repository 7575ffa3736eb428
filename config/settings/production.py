"""Production: every required value comes from the environment and has no default."""

from config.settings.base import *  # noqa: F401,F403
from config.settings.base import env

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY")
DATABASES = {"default": env.db("DATABASE_URL")}
_conn_max_age = env.int("MODELYARD_DB_CONN_MAX_AGE", default=0)  # see base.py
DATABASES["default"].update(CONN_MAX_AGE=_conn_max_age, CONN_HEALTH_CHECKS=_conn_max_age > 0)
REDIS_URL = env("REDIS_URL")
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Nobody scores or poisons an endpoint without one of its consumer keys; not configurable here.
MODELYARD_INFERENCE_REQUIRE_KEYS = True

# --- TLS (issue 12, point 9): on by default here; each can be turned off from the environment ---
# Production is served over HTTPS (docs/operations.md "Behind TLS"): plain HTTP is redirected, browsers are
# told to use HTTPS only for a year (HSTS), and cookies travel over HTTPS only. A proxy that ends
# TLS must say so in a header named by DJANGO_SECURE_PROXY_SSL_HEADER (base.py), or every request
# is redirected again and again.
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=365 * 24 * 3600)
# Subdomains of Modelyard's own host name; the preload flag has effect only once the domain's
# owner submits it to the browsers' list. Turn both off on a shared parent domain.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
CSRF_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
